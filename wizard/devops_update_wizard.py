from odoo import api, fields, models

from ..models.devops_update import DEFAULT_PIP
from ..models.utils import form_action


class DevopsUpdateWizard(models.TransientModel):
    """Update an instance to new code: see devops.update for the steps."""

    _name = "devops.update.wizard"
    _inherit = ["devops.input.mixin"]
    _description = "Update an instance"

    instance_id = fields.Many2one("devops.instance", required=True)
    ref = fields.Char(
        string="Branch, tag or commit", help="Empty: pull the current branch (fast-forward only)."
    )
    modules = fields.Char(help="Comma-separated. Empty: the modules whose files changed.")
    pip_command = fields.Char(
        string="When requirements.txt changed",
        default=DEFAULT_PIP,
    )
    update_command = fields.Text(
        compute="_compute_update_command",
        store=True,
        readonly=False,
        help="Runs in the workspace when modules are to update; {modules} is replaced.",
    )
    health_wait = fields.Integer(string="Wait for health (s)", default=60)

    @api.depends("instance_id")
    def _compute_update_command(self):
        for wizard in self:
            wizard.update_command = self.env["devops.update"]._default_update_command(
                wizard.instance_id
            )

    def action_run(self):
        self._ensure_one_existing()
        update_id = self.instance_id.update(
            ref=self.ref or None,
            modules=self.modules or None,
            pip_command=self.pip_command or "",
            update_command=self.update_command or "",
            health_wait=self.health_wait,
        )
        return form_action(self.env["devops.update"].browse(update_id), target="current")
