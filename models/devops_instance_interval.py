from odoo import api, fields, models
from odoo.tools.sql import create_index

from ..engine import uptime
from .devops_instance import INSTANCE_STATES


class DevopsInstanceInterval(models.Model):
    """A stretch of time an instance spent in one state: every change of state closes one and
    opens the next.  Uptime and outages are computed from these, to the second."""

    _name = "devops.instance.interval"
    _inherit = ["devops.input.mixin"]
    _description = "DevOps Instance State Interval"
    _order = "date_start desc, id desc"
    _log_access = False

    instance_id = fields.Many2one(
        "devops.instance", required=True, ondelete="cascade", readonly=True
    )
    state = fields.Selection(
        selection=INSTANCE_STATES,
        required=True,
        readonly=True,
    )
    date_start = fields.Datetime(string="From", required=True, readonly=True)
    date_end = fields.Datetime(string="Until", readonly=True, help="Empty: still in it.")
    duration = fields.Float(string="Duration (min)", compute="_compute_duration", aggregator="sum")

    def init(self):
        create_index(
            self.env.cr,
            "devops_instance_interval_instance_start_idx",
            self._table,
            ["instance_id", "date_start"],
        )

    def _compute_duration(self):
        now = fields.Datetime.now()
        for interval in self:
            end = interval.date_end or now
            interval.duration = (end - interval.date_start).total_seconds() / 60

    @api.model
    def _record(self, instances, state, when):
        """``instances`` enter ``state`` at ``when``: close their open interval, open one."""
        if not instances:
            return
        self.env.cr.execute(
            "UPDATE devops_instance_interval SET date_end = %s"
            " WHERE instance_id IN %s AND date_end IS NULL",
            [when, tuple(instances.ids)],
        )
        self.sudo().create(
            [{"instance_id": i.id, "state": state, "date_start": when} for i in instances]
        )

    @api.model
    def _history(self, instance_ids, since, until):
        """{instance id: [(state, start, end or None)]} overlapping [since, until)."""
        if not instance_ids:
            return {}
        self.env.cr.execute(
            "SELECT instance_id, state, date_start, date_end FROM devops_instance_interval"
            " WHERE instance_id IN %s AND date_start < %s"
            " AND (date_end IS NULL OR date_end > %s) ORDER BY date_start",
            [tuple(instance_ids), until, since],
        )
        history = {}
        for instance_id, state, start, end in self.env.cr.fetchall():
            history.setdefault(instance_id, []).append((state, start, end))
        return history

    @api.model
    def _uptimes(self, instance_ids, since, until, excluded=None):
        """{instance id: uptime % or None (no data)} over [since, until)."""
        history = self._history(instance_ids, since, until)
        excluded = excluded or {}
        return {
            instance_id: uptime.uptime(
                history.get(instance_id, []), since, until, excluded.get(instance_id, ())
            )
            for instance_id in instance_ids
        }
