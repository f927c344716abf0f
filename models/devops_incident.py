from odoo import api, fields, models


class DevopsIncident(models.Model):
    """A time an instance was down: opened by the operate cron, closed when it is back."""

    _name = "devops.incident"
    _inherit = ["devops.input.mixin"]
    _description = "DevOps Incident"
    _order = "date_start desc, id desc"
    _rec_name = "cause"

    instance_id = fields.Many2one(
        "devops.instance", required=True, ondelete="cascade", index=True, readonly=True
    )
    machine_id = fields.Many2one(related="instance_id.machine_id", store=True)
    date_start = fields.Datetime(
        string="Start", required=True, default=fields.Datetime.now, readonly=True
    )
    date_end = fields.Datetime(string="End", readonly=True, index=True)
    duration = fields.Float(
        string="Duration (min)", compute="_compute_duration", store=True, aggregator="sum"
    )
    cause = fields.Text(required=True, readonly=True)
    restart_count = fields.Integer(string="Restarts tried", readonly=True)
    note = fields.Text(help="What was done about it.")
    state = fields.Selection(
        [("open", "Open"), ("closed", "Closed")], compute="_compute_state", store=True
    )

    @api.depends("date_start", "date_end")
    def _compute_duration(self):
        for incident in self:
            end = incident.date_end or incident.date_start
            incident.duration = (end - incident.date_start).total_seconds() / 60

    @api.depends("date_end")
    def _compute_state(self):
        for incident in self:
            incident.state = "closed" if incident.date_end else "open"

    def _close(self, note):
        for incident in self.sudo():
            text = f"{incident.note}\n{note}" if incident.note else note
            incident.write({"date_end": fields.Datetime.now(), "note": text})
