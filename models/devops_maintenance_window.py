from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools.sql import create_index


class DevopsMaintenanceWindow(models.Model):
    """A time an instance is worked on: its alerts are silenced, and it is left out of uptime.

    Managers plan them (on the instance's form, tab *Alerts*, or *Operate → Maintenance*);
    every DevOps user reads them.  ``_windows`` gives them to whoever computes over a time
    range (uptime), ``devops.instance._in_maintenance`` says whether one is under way."""

    _name = "devops.maintenance.window"
    _inherit = ["devops.input.mixin"]
    _description = "DevOps Maintenance Window"
    _order = "date_start desc, id desc"
    _rec_name = "reason"

    instance_id = fields.Many2one("devops.instance", required=True, ondelete="cascade", index=True)
    machine_id = fields.Many2one(related="instance_id.machine_id", store=True)
    date_start = fields.Datetime(string="Start", required=True, default=fields.Datetime.now)
    date_end = fields.Datetime(string="End", required=True, index=True)
    reason = fields.Char(help="What is done, e.g. Upgrade to 18.0.")
    user_id = fields.Many2one(
        "res.users", string="Planned by", default=lambda self: self.env.user, readonly=True
    )
    state = fields.Selection(
        [("planned", "Planned"), ("ongoing", "Under way"), ("done", "Over")],
        compute="_compute_state",
    )

    def init(self):
        # "The windows of these instances overlapping this range": _windows and _in_maintenance.
        create_index(
            self.env.cr,
            "devops_maintenance_window_range_idx",
            self._table,
            ["instance_id", "date_start", "date_end"],
        )

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su:  # "Planned by" is who planned it, never a value sent by a client
            for vals in vals_list:
                vals["user_id"] = self.env.uid
        return super().create(vals_list)

    def write(self, vals):
        if "user_id" in vals and not self.env.su:
            raise ValidationError(self.env._("Planned by is set when the window is planned."))
        return super().write(vals)

    @api.depends("date_start", "date_end")
    def _compute_state(self):
        now = fields.Datetime.now()
        for window in self:
            if window.date_start and window.date_start > now:
                window.state = "planned"
            elif window.date_end and window.date_end <= now:
                window.state = "done"
            else:
                window.state = "ongoing"

    @api.constrains("date_start", "date_end")
    def _check_dates(self):
        for window in self:
            if window.date_end <= window.date_start:
                raise ValidationError(self.env._("A maintenance window must end after it starts."))

    @api.model
    def _windows(self, instance_ids, since, until):
        """{instance id: [(start, end), …]}: the maintenance windows of these instances that
        overlap [since, until), clipped to that range, in order, overlapping ones merged
        (so their lengths add up to the time under maintenance).  Naive UTC datetimes, as
        Odoo stores them; instances without any window are left out."""
        if not instance_ids or since >= until:
            return {}
        rows = self.sudo().search_read(
            [
                ("instance_id", "in", list(instance_ids)),
                ("date_start", "<", until),
                ("date_end", ">", since),
            ],
            ["instance_id", "date_start", "date_end"],
            order="instance_id, date_start",
        )
        result = {}
        for row in rows:
            start, end = max(row["date_start"], since), min(row["date_end"], until)
            spans = result.setdefault(row["instance_id"][0], [])
            if spans and start <= spans[-1][1]:
                spans[-1] = (spans[-1][0], max(spans[-1][1], end))
            else:
                spans.append((start, end))
        return result
