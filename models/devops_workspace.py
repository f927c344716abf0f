from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..engine import validation


class DevopsWorkspace(models.Model):
    """A directory on a machine, usually a git checkout of an Odoo/ERPLibre project."""

    _name = "devops.workspace"
    _description = "DevOps Workspace"
    _order = "name, id"

    name = fields.Char(required=True)
    machine_id = fields.Many2one(
        "devops.machine",
        required=True,
        ondelete="restrict",
        default=lambda self: self.env.ref(
            "erplibre_devops.machine_local", raise_if_not_found=False
        ),
    )
    path = fields.Char(
        required=True,
        help="Absolute path of the workspace on its machine, such as /home/odoo/erplibre.",
    )
    active = fields.Boolean(default=True)
    instance_ids = fields.One2many("devops.instance", "workspace_id", string="Instances")

    _sql_constraints = [
        ("name_unique", "unique(name)", "Another workspace already has this name."),
        (
            "machine_path_unique",
            "unique(machine_id, path)",
            "Another workspace already uses this path on this machine.",
        ),
    ]

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._normalize_path_vals(vals)
        return super().create(vals_list)

    def write(self, vals):
        self._normalize_path_vals(vals)
        return super().write(vals)

    @api.model
    def _normalize_path_vals(self, vals):
        """Refuse a bad path before it reaches the database (PostgreSQL rejects NUL with an
        unreadable error), and store a good one in its normal form."""
        if "path" in vals:
            self._raise_path_problem(vals["path"] or "")
            vals["path"] = validation.normalize_path(vals["path"])

    @api.model
    def _raise_path_problem(self, path):
        problem = validation.check_absolute_path(path)
        if problem:
            raise ValidationError(self.env._(problem.template, **problem.params))

    @api.constrains("path")
    def _check_path(self):
        for workspace in self:
            self._raise_path_problem(workspace.path or "")
