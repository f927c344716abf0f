from odoo import api, fields, models


class DevopsInstanceLogWizard(models.TransientModel):
    """An instance's log, followed live: the dialog reads its end again every few seconds."""

    _name = "devops.instance.log.wizard"
    _inherit = ["devops.input.mixin"]
    _description = "Log of an instance"

    instance_id = fields.Many2one("devops.instance", required=True, readonly=True)
    lines = fields.Integer(default=200, help="How many lines from the end, 1 to 5 000.")
    search = fields.Char(help="Only the lines holding this text (case-insensitive).")
    follow = fields.Boolean(default=True, help="Read the end of the log again every 2 seconds.")
    text = fields.Text(compute="_compute_text", string="Log")

    @api.depends("instance_id", "lines", "search")
    def _compute_text(self):
        for wizard in self:
            wizard.text = (
                wizard.instance_id.log_tail(max(1, min(wizard.lines or 200, 5000)), wizard.search)
                if wizard.instance_id
                else ""
            )
