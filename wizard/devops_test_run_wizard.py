"""Run tests: the options of ``devops.workspace.run_tests()`` in a dialog."""

from odoo import fields, models

from ..models.utils import form_action


class DevopsTestRunWizard(models.TransientModel):
    _name = "devops.test.run.wizard"
    _inherit = ["devops.input.mixin"]
    _description = "DevOps: run tests"

    workspace_id = fields.Many2one("devops.workspace", required=True, ondelete="cascade")
    odoo_path = fields.Char(related="workspace_id.odoo_path")
    selection = fields.Selection(
        [
            ("all", "The workspace's own modules"),
            ("given", "These modules"),
            ("changed", "The modules changed since"),
            ("impacted", "The modules changed since, and those depending on them"),
        ],
        string="Test",
        default="all",
        required=True,
    )
    modules = fields.Char(help="Technical names, comma-separated, such as sale,stock.")
    since = fields.Char(
        help="A commit, branch or tag, such as main or HEAD~3: compared in every repository "
        "of the workspace where it exists."
    )
    test_tags = fields.Char(
        help="Odoo's --test-tags (default: the modules tested), such as /sale,-slow."
    )
    demo = fields.Boolean(string="Demo data", default=True)
    coverage = fields.Boolean(
        help="Run under coverage run --branch (coverage must be in the build, e.g. in a "
        "requirements.txt)."
    )
    adopt_path = fields.Char(
        string="Adopt a virtualenv",
        help="Optional: the absolute path of an existing virtualenv with the requirements "
        "(such as /home/odoo/venv); the tests, and later ones, run in it instead of a build "
        "of their own.",
    )
    keep_db = fields.Boolean(
        string="Keep the database on failure", help="To look into it; drop it from the run."
    )

    def action_run(self):
        self._ensure_one_existing()
        selection = self.selection
        if self.adopt_path:
            self.workspace_id.build(adopt_path=self.adopt_path)
        run_id = self.workspace_id.run_tests(
            modules=(self.modules or "") if selection == "given" else None,
            since=self.since or None if selection in ("changed", "impacted") else None,
            impacted=selection == "impacted",
            test_tags=self.test_tags or None,
            demo=self.demo,
            coverage=self.coverage,
            keep_db=self.keep_db,
        )
        return form_action(self.env["devops.test.run"].browse(run_id), target="current")
