"""The four DORA delivery metrics of workspaces, from the app's own records."""

import datetime

from odoo import fields, models
from odoo.exceptions import UserError

from ..engine import dora

FAILURE_PARAM = "erplibre_devops.dora_failure_hours"
METRICS = [
    "deployment_frequency",
    "lead_time_hours",
    "change_failure_rate",
    "time_to_restore_hours",
]
MAX_DAYS = 5 * 366


class DevopsWorkspace(models.Model):
    _inherit = "devops.workspace"

    def dora_metrics(self, date_from, date_to):
        """The DORA metrics of these workspaces (every one you may read when called on none)
        over [date_from, date_to) — dates ("2026-11-01", the end day included) or datetimes
        (UTC): {deployment_frequency (per day), lead_time_hours, change_failure_rate (%),
        time_to_restore_hours; for each, <name>_ids (the records it comes from: production
        deployments, changes, production deployments, incidents) and <name>_level (elite,
        high, medium, low)}; a figure without data is None."""
        self._check_ids()
        start = self._dora_moment(date_from, self.env._("The start"))
        end = self._dora_moment(date_to, self.env._("The end"), end=True)
        if not start < end or (end - start).days > MAX_DAYS:
            raise UserError(self._dora_period_message())
        workspaces = self.exists() if self else self.search([("active", "=", True)])
        workspaces.check_access("read")
        return workspaces._dora(start, end)

    def _dora_moment(self, value, label, end=False):
        """A naive UTC datetime from a date (the whole day: its end is the next midnight),
        a datetime, or their ISO texts."""
        moment, day = None, False
        if isinstance(value, str):
            try:
                if len(value) == 10:
                    value = datetime.date.fromisoformat(value)
                else:
                    moment = fields.Datetime.to_datetime(value)
            except ValueError:
                moment = None
        if isinstance(value, datetime.datetime):
            moment = value.replace(tzinfo=None)
        elif isinstance(value, datetime.date):
            moment, day = datetime.datetime.combine(value, datetime.time()), True
        if moment is None:
            raise UserError(
                self.env._("%(what)s is a date such as 2026-11-01, not %(value)r.", what=label,
                           value=value)
            )  # fmt: skip
        if not 1900 <= moment.year <= 9998:
            raise UserError(self._dora_period_message())
        return moment + datetime.timedelta(days=1) if end and day else moment

    def _dora_period_message(self):
        return self.env._(
            "The period ends after it starts, lasts at most five years, between 1900 and 9998."
        )

    def _dora_records(self, start, end, window):
        """(production deployments, changes, incidents) of these workspaces that count in
        [start, end), as the user may read them."""
        deployments = self.env["devops.deployment"].search(
            [
                "|",
                ("workspace_id", "in", self.ids),
                ("release_id.workspace_id", "in", self.ids),
                ("environment", "=", "production"),
                ("dry_run", "=", False),
                ("state", "in", ("done", "failed", "rolled_back")),
                ("date_end", ">=", start),
                ("date_end", "<", end),
            ]
        )
        changes = self.env["devops.change"].search(
            [
                ("workspace_ids", "in", self.ids),
                ("production_date", ">=", start),
                ("production_date", "<", end),
            ]
        )
        instances = self.env["devops.instance"].search(
            [("workspace_id", "in", self.ids), ("environment", "=", "production")]
        )
        incidents = self.env["devops.incident"].search(
            [
                ("instance_id", "in", (instances | deployments.instance_id).ids),
                "|",
                "&",
                ("date_end", ">=", start),
                ("date_end", "<", end),
                "&",
                ("date_start", ">=", start),
                ("date_start", "<", end + window),
            ]
        )
        return deployments, changes, incidents

    def _dora_window(self):
        hours = self.env["ir.config_parameter"].sudo().get_param(FAILURE_PARAM, "24")
        try:
            return datetime.timedelta(hours=min(max(float(hours), 0.0), 24.0 * 366))
        except ValueError:
            return datetime.timedelta(hours=24)

    def _dora_facts(self, start, end):
        """The records that count in [start, end) as ``engine.dora`` reads them, and the
        failure window."""
        window = self._dora_window()
        deployments, changes, incidents = self._dora_records(start, end, window)
        return (
            [dora.Deployment(d.id, d.date_end, d.state == "done", d.instance_id.id)
             for d in deployments],
            [dora.Change(c.id, c.first_commit_date or None, c.production_date) for c in changes],
            [dora.Incident(i.id, i.date_start, i.date_end or None, i.instance_id.id)
             for i in incidents],
            window,
        )  # fmt: skip

    def _dora(self, start, end, facts=None):
        deployments, changes, incidents, window = facts or self._dora_facts(start, end)
        figures = dora.metrics(deployments, changes, incidents, start, end, failure_window=window)
        for name in METRICS:
            figures[f"{name}_level"] = dora.level(name, figures[name])
        return figures
