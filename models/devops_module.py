"""An Odoo module found in a workspace by *Scan* (``devops.workspace.scan_modules``)."""

from odoo import api, fields, models

from ..engine import odoo_tree


class DevopsModule(models.Model):
    _name = "devops.module"
    _inherit = ["devops.input.mixin"]
    _description = "DevOps Odoo Module"
    _order = "workspace_id, name, id"

    name = fields.Char(string="Technical name", required=True, readonly=True, index=True)
    workspace_id = fields.Many2one(
        "devops.workspace", required=True, ondelete="cascade", index=True, readonly=True
    )
    repo_id = fields.Many2one(
        "devops.workspace.repo", string="Repository", ondelete="set null", readonly=True
    )
    path = fields.Char(required=True, readonly=True)
    addons_dir = fields.Char(string="Addons folder", readonly=True)
    version = fields.Char(readonly=True)
    summary = fields.Char(readonly=True)
    author = fields.Char(readonly=True)
    category = fields.Char(readonly=True)
    license = fields.Char(readonly=True)
    depends = fields.Char(string="Depends (names)", readonly=True)
    depends_ids = fields.Many2many(
        "devops.module",
        "devops_module_depends_rel",
        "module_id",
        "depends_id",
        string="Depends on",
        readonly=True,
    )
    missing_depends = fields.Char(readonly=True, help="Dependencies not found in the workspace.")
    external_python = fields.Char(string="Python dependencies", readonly=True)
    external_bin = fields.Char(string="Programs needed", readonly=True)
    has_requirements = fields.Boolean(string="requirements.txt", readonly=True)
    installable = fields.Boolean(readonly=True)
    auto_install = fields.Boolean(readonly=True)
    application = fields.Boolean(readonly=True)
    odoo_core = fields.Boolean(
        string="Odoo core", readonly=True, help="A module of the Odoo source tree itself."
    )
    dependent_ids = fields.Many2many(
        "devops.module",
        compute="_compute_graph",
        string="Used by",
        help="The modules that depend on it directly.",
    )
    all_depends_ids = fields.Many2many(
        "devops.module",
        compute="_compute_graph",
        string="All dependencies",
        help="Everything it needs, transitively.",
    )
    all_dependent_ids = fields.Many2many(
        "devops.module",
        compute="_compute_graph",
        string="All dependents",
        help="Every module that needs it, transitively: what to test when it changes.",
    )

    _sql_constraints = [
        ("path_unique", "unique(workspace_id, path)", "A module is found once per path."),
    ]

    @api.depends("depends_ids")
    def _compute_graph(self):
        for workspace in self.workspace_id:
            mine = self.filtered(lambda m, w=workspace: m.workspace_id == w)
            everything = self.search([("workspace_id", "=", workspace.id)])
            graph = {m.id: m.depends_ids.ids for m in everything}
            reverse = {}
            for module_id, depends in graph.items():
                for depend in depends:
                    reverse.setdefault(depend, []).append(module_id)
            for module in mine:
                module.dependent_ids = self.browse(reverse.get(module.id, []))
                module.all_depends_ids = self.browse(odoo_tree.dependencies(graph, [module.id]))
                module.all_dependent_ids = self.browse(odoo_tree.dependents(graph, [module.id]))
        for module in self.filtered(lambda m: not m.workspace_id):
            module.dependent_ids = module.all_depends_ids = module.all_dependent_ids = False
