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
        start = self._dora_moment(date_from, self.env._("The start"))
        end = self._dora_moment(date_to, self.env._("The end"), end=True)
        if not start < end or (end - start).days > MAX_DAYS:
            raise UserError(
                self.env._("The period ends after it starts, and lasts at most five years.")
            )
        workspaces = self.exists() if self else self.search([("active", "=", True)])
        workspaces.check_access("read")
        return workspaces._dora(start, end)

    def _dora_moment(self, value, label, end=False):
        if isinstance(value, str) and len(value) == 10:
            value = fields.Date.to_date(value) if _is_date(value) else value
        if isinstance(value, datetime.datetime):
            return value.replace(tzinfo=None)
        if isinstance(value, datetime.date):
            moment = datetime.datetime.combine(value, datetime.time())
            return moment + datetime.timedelta(days=1) if end else moment
        moment = None
        if isinstance(value, str):
            try:
                moment = fields.Datetime.to_datetime(value)
            except ValueError:
                moment = None
        if moment:
            return moment
        raise UserError(
            self.env._("%(what)s is a date such as 2026-11-01, not %(value)r.", what=label,
                       value=value)
        )  # fmt: skip

    def _dora_records(self):
        """(production deployments, changes, incidents) of these workspaces, as the user
        may read them."""
        deployments = self.env["devops.deployment"].search(
            [
                "|",
                ("workspace_id", "in", self.ids),
                ("release_id.workspace_id", "in", self.ids),
                ("environment", "=", "production"),
                ("dry_run", "=", False),
                ("state", "in", ("done", "failed", "rolled_back")),
                ("date_end", "!=", False),
            ]
        )
        changes = self.env["devops.change"].search(
            [("workspace_ids", "in", self.ids), ("production_date", "!=", False)]
        )
        instances = self.env["devops.instance"].search(
            [("workspace_id", "in", self.ids), ("environment", "=", "production")]
        )
        incidents = self.env["devops.incident"].search(
            [("instance_id", "in", (instances | deployments.instance_id).ids)]
        )
        return deployments, changes, incidents

    def _dora_facts(self):
        """The records as ``engine.dora`` reads them, and the failure window."""
        deployments, changes, incidents = self._dora_records()
        hours = self.env["ir.config_parameter"].sudo().get_param(FAILURE_PARAM, "24")
        try:
            window = datetime.timedelta(hours=max(float(hours), 0.0))
        except ValueError:
            window = datetime.timedelta(hours=24)
        return (
            [dora.Deployment(d.id, d.date_end, d.state == "done", d.instance_id.id)
             for d in deployments],
            [dora.Change(c.id, c.first_commit_date or None, c.production_date) for c in changes],
            [dora.Incident(i.id, i.date_start, i.date_end or None, i.instance_id.id)
             for i in incidents],
            window,
        )  # fmt: skip

    def _dora(self, start, end, facts=None):
        deployments, changes, incidents, window = facts or self._dora_facts()
        figures = dora.metrics(deployments, changes, incidents, start, end, failure_window=window)
        for name in METRICS:
            figures[f"{name}_level"] = dora.level(name, figures[name])
        return figures


def _is_date(text):
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return True
