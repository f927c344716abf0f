"""The delivery metrics screen: the four DORA figures of a workspace (or all) over a period,
their levels, the records behind each, and the last twelve weeks week by week."""

import datetime
import html

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..models.devops_workspace_dora import METRICS

LEVELS = [("elite", "Elite"), ("high", "High"), ("medium", "Medium"), ("low", "Low")]
WEEKS = 12


class DevopsDoraDashboard(models.TransientModel):
    _name = "devops.dora.dashboard"
    _inherit = ["devops.input.mixin"]
    _description = "DevOps delivery metrics"

    workspace_id = fields.Many2one("devops.workspace", help="Empty: every workspace.")
    date_from = fields.Date(
        string="From",
        required=True,
        default=lambda self: fields.Date.today() - datetime.timedelta(days=29),
    )
    date_to = fields.Date(string="To", required=True, default=fields.Date.today)
    deployment_frequency = fields.Char(compute="_compute_figures")
    deployment_frequency_level = fields.Selection(LEVELS, compute="_compute_figures")
    deployment_frequency_count = fields.Integer(compute="_compute_figures")
    lead_time_hours = fields.Char(string="Lead time for changes", compute="_compute_figures")
    lead_time_hours_level = fields.Selection(LEVELS, compute="_compute_figures")
    lead_time_hours_count = fields.Integer(compute="_compute_figures")
    change_failure_rate = fields.Char(compute="_compute_figures")
    change_failure_rate_level = fields.Selection(LEVELS, compute="_compute_figures")
    change_failure_rate_count = fields.Integer(compute="_compute_figures")
    time_to_restore_hours = fields.Char(string="Time to restore", compute="_compute_figures")
    time_to_restore_hours_level = fields.Selection(LEVELS, compute="_compute_figures")
    time_to_restore_hours_count = fields.Integer(compute="_compute_figures")
    history_html = fields.Html(string="Week by week", compute="_compute_figures", sanitize=True)

    def _metrics(self):
        workspaces = self.workspace_id or self.env["devops.workspace"]
        return workspaces.dora_metrics(self.date_from, self.date_to)

    @api.depends("workspace_id", "date_from", "date_to")
    def _compute_figures(self):
        for board in self:
            if not (board.date_from and board.date_to) or board.date_to < board.date_from:
                for name in METRICS:
                    board[name] = False
                    board[f"{name}_level"] = False
                    board[f"{name}_count"] = 0
                board.history_html = False
                continue
            try:
                figures = board._metrics()
            except UserError as error:  # a period out of range: said, not raised on each key
                for name in METRICS:
                    board[name] = False
                    board[f"{name}_level"] = False
                    board[f"{name}_count"] = 0
                board.history_html = f"<p class='text-danger'>{html.escape(str(error))}</p>"
                continue
            for name in METRICS:
                board[name] = board._shown(name, figures[name])
                board[f"{name}_level"] = figures[f"{name}_level"]
                board[f"{name}_count"] = len(figures[f"{name}_ids"])
            board.history_html = board._history()

    def _shown(self, name, value):
        if value is None:
            return self.env._("No data")
        if name == "deployment_frequency":
            return self.env._("%(n).2f per day (%(w).1f per week)", n=value, w=value * 7)
        if name == "change_failure_rate":
            return f"{value:.0f} %"
        if value < 48:
            return self.env._("%(h).1f hours", h=value)
        return self.env._("%(d).1f days", d=value / 24)

    def _history(self):
        """A table of the last WEEKS weeks up to the period's end."""
        end = self.date_to + datetime.timedelta(days=1)
        workspaces = self.workspace_id or self.env["devops.workspace"].search(
            [("active", "=", True)]
        )
        workspaces.check_access("read")
        facts = workspaces._dora_facts(
            datetime.datetime.combine(end - datetime.timedelta(days=7 * WEEKS), datetime.time()),
            datetime.datetime.combine(end, datetime.time()),
        )
        rows = []
        for week in range(WEEKS, 0, -1):
            stop = end - datetime.timedelta(days=7 * (week - 1))
            start = stop - datetime.timedelta(days=7)
            figures = workspaces._dora(
                datetime.datetime.combine(start, datetime.time()),
                datetime.datetime.combine(stop, datetime.time()),
                facts,
            )
            cells = "".join(
                f"<td>{html.escape(self._shown(name, figures[name]))}</td>" for name in METRICS
            )
            rows.append(f"<tr><td>{start:%Y-%m-%d}</td>{cells}</tr>")
        heads = [
            self.env._("Week of"),
            self.env._("Deployment frequency"),
            self.env._("Lead time"),
            self.env._("Change failure rate"),
            self.env._("Time to restore"),
        ]
        head = "".join(f"<th>{html.escape(h)}</th>" for h in heads)
        return (
            "<table class='table table-sm o_devops_dora_history'>"
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )

    def _open(self, name, model, title):
        self._ensure_one_existing()
        ids = self._metrics()[f"{name}_ids"]
        return {
            "type": "ir.actions.act_window",
            "name": title,
            "res_model": model,
            "view_mode": "list,form",
            "views": [(False, "list"), (False, "form")],
            "domain": [("id", "in", ids)],
        }

    def action_open_deployments(self):
        return self._open(
            "deployment_frequency", "devops.deployment", self.env._("Production deployments")
        )

    def action_open_lead_time(self):
        return self._open("lead_time_hours", "devops.change", self.env._("Changes deployed"))

    def action_open_failures(self):
        return self._open(
            "change_failure_rate", "devops.deployment", self.env._("Failed production deployments")
        )

    def action_open_incidents(self):
        return self._open(
            "time_to_restore_hours", "devops.incident", self.env._("Incidents restored")
        )
