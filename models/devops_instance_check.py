from odoo import api, fields, models
from odoo.tools.sql import create_index


class DevopsInstanceCheck(models.Model):
    """One sample of an instance's health, written by the monitor cron."""

    _name = "devops.instance.check"
    _inherit = ["devops.input.mixin"]
    _description = "DevOps Instance Check"
    _order = "date desc, id desc"
    _log_access = False

    instance_id = fields.Many2one(
        "devops.instance", required=True, ondelete="cascade", readonly=True
    )
    date = fields.Datetime(required=True, readonly=True)
    state = fields.Selection(
        [("up", "Up"), ("down", "Down"), ("stopped", "Stopped")], required=True, readonly=True
    )
    http_status = fields.Integer(string="HTTP status", readonly=True, aggregator=None)
    latency_ms = fields.Float(string="Latency (ms)", readonly=True, aggregator="avg")
    cpu_percent = fields.Float(string="CPU (%)", readonly=True, aggregator="avg")
    memory_mb = fields.Float(string="Memory (MB)", readonly=True, aggregator="avg")
    disk_percent = fields.Float(string="Disk used (%)", readonly=True, aggregator="avg")
    load = fields.Float(readonly=True, aggregator="avg")

    def init(self):
        # Every question asked of the history is "this instance, since then".
        create_index(
            self.env.cr,
            "devops_instance_check_instance_date_idx",
            self._table,
            ["instance_id", "date"],
        )

    @api.model
    def _uptime(self, instance_ids, since):
        """{instance id: % of its samples since ``since`` that were up} (stopped ones left out)."""
        groups = self._read_group(
            [
                ("instance_id", "in", instance_ids),
                ("date", ">=", since),
                ("state", "!=", "stopped"),
            ],
            ["instance_id", "state"],
            ["__count"],
        )
        total, up = {}, {}
        for instance, state, count in groups:
            total[instance.id] = total.get(instance.id, 0) + count
            if state == "up":
                up[instance.id] = up.get(instance.id, 0) + count
        return {key: 100.0 * up.get(key, 0) / count for key, count in total.items()}

    @api.model
    def _trim(self, days):
        """Delete the samples older than ``days`` days (0 keeps everything)."""
        if days > 0:
            self.env.cr.execute(
                "DELETE FROM devops_instance_check"
                " WHERE date < now() at time zone 'UTC' - %s::interval",
                [f"{int(days)} days"],
            )
