from odoo import api, fields, models

from ..models.devops_pipeline_actions import DEFAULT_PIP, default_update_command
from ..models.utils import form_action


class DevopsUpdateWizard(models.TransientModel):
    """Update an instance to new code: the pipeline "Update" (pull or checkout, pip when the
    requirements changed, -u of the modules, restart, wait until healthy, roll back when the
    new code does not come up)."""

    _name = "devops.update.wizard"
    _inherit = ["devops.input.mixin"]
    _description = "Update an instance"

    instance_id = fields.Many2one("devops.instance", required=True)
    ref = fields.Char(
        string="Branch, tag or commit", help="Empty: pull the current branch (fast-forward only)."
    )
    modules = fields.Char(help="Comma-separated. Empty: the modules whose files changed.")
    pip_command = fields.Char(
        string="Requirements command",
        default=DEFAULT_PIP,
        help="Run when requirements.txt changed; empty: never.",
    )
    update_command = fields.Text(
        compute="_compute_update_command",
        store=True,
        readonly=False,
        help="Runs in the workspace when modules are to update; {modules} is replaced.",
    )
    health_wait = fields.Integer(string="Wait for health (s)", default=60)
    may_edit_commands = fields.Boolean(
        compute="_compute_may_edit_commands",
        help="Commands of one's own on the Odoo server's machine need the group 'Run "
        "commands on the Odoo server'.",
    )

    @api.depends("instance_id")
    def _compute_may_edit_commands(self):
        Exec = self.env["devops.exec"]
        for wizard in self:
            machine = wizard.instance_id.sudo().machine_id
            wizard.may_edit_commands = not machine or Exec._may_run_own_commands(machine)

    @api.depends("instance_id")
    def _compute_update_command(self):
        for wizard in self:
            wizard.update_command = default_update_command(wizard.instance_id) or False

    def action_run(self):
        self._ensure_one_existing()
        run_id = self.instance_id.update_code(
            ref=self.ref or None,
            modules=self.modules or None,
            pip_command=self.pip_command or "",
            update_command=self.update_command or "",
            health_wait=self.health_wait,
        )
        return form_action(self.env["devops.pipeline.run"].browse(run_id), target="current")
