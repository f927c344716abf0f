"""The delivery metrics screen: the four DORA figures of a workspace (or all) over a period,
their levels, the records behind each, and the last twelve weeks week by week."""

import datetime
import html

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools.misc import format_date

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
    deployment_frequency_link = fields.Char(compute="_compute_figures")
    lead_time_hours_link = fields.Char(compute="_compute_figures")
    change_failure_rate_link = fields.Char(compute="_compute_figures")
    time_to_restore_hours_link = fields.Char(compute="_compute_figures")
    history_html = fields.Html(string="Week by week", compute="_compute_figures", sanitize=True)

    @api.depends("workspace_id")
    def _compute_display_name(self):
        for board in self:
            board.display_name = (
                self.env._("Delivery metrics: %(ws)s", ws=board.workspace_id.name)
                if board.workspace_id
                else self.env._("Delivery metrics")
            )

    def _metrics(self):
        workspaces = self.workspace_id or self.env["devops.workspace"]
        return workspaces.dora_metrics(self.date_from, self.date_to)

    @api.depends("workspace_id", "date_from", "date_to")
    def _compute_figures(self):
        for board in self:
            for name in METRICS:
                board[name] = board[f"{name}_level"] = board[f"{name}_link"] = False
                board[f"{name}_count"] = 0
            board.history_html = False
            if not (board.date_from and board.date_to):
                continue
            if board.date_to < board.date_from:
                board.history_html = "<p class='text-danger'>{}</p>".format(
                    html.escape(self.env._("The period ends before it starts: put From first."))
                )
                continue
            try:
                figures = board._metrics()
            except UserError as error:  # a period out of range: said, not raised on each key
                board.history_html = f"<p class='text-danger'>{html.escape(str(error))}</p>"
                continue
            for name in METRICS:
                count = len(figures[f"{name}_ids"])
                board[f"{name}_count"] = count
                board[f"{name}_link"] = board._link(name, count)
                if name == "deployment_frequency" and not count:
                    board[name] = self.env._("No production deployment")  # and no level
                    continue
                board[name] = board._shown(name, figures[name])
                board[f"{name}_level"] = figures[f"{name}_level"]
            board.history_html = board._history()

    def _link(self, name, count):
        """What the figure's link opens: "1 change", "3 incidents"…"""
        words = {
            "deployment_frequency": (
                self.env._("%(n)s production deployment"),
                self.env._("%(n)s production deployments"),
            ),
            "lead_time_hours": (self.env._("%(n)s change"), self.env._("%(n)s changes")),
            "change_failure_rate": (
                self.env._("%(n)s failed deployment"),
                self.env._("%(n)s failed deployments"),
            ),
            "time_to_restore_hours": (
                self.env._("%(n)s incident"),
                self.env._("%(n)s incidents"),
            ),
        }[name]
        return (words[0] if count == 1 else words[1]) % {"n": count}

    def _shown(self, name, value):
        if value is None:
            return self.env._("No data")
        if name == "deployment_frequency":
            return self.env._("%(n).2f per day (%(w).1f per week)", n=value, w=value * 7)
        if name == "change_failure_rate":
            return f"{value:.0f} %"
        if value < 1:
            return self.env._("%(m)d minutes", m=round(value * 60))
        if value < 48:
            return self.env._("%(h).1f hours", h=value)
        return self.env._("%(d).1f days", d=value / 24)

    def _weeks(self):
        """(Monday, first day, day after) of the period's weeks, newest first, at most
        WEEKS; the first and last are cut to the period."""
        weeks = []
        monday = self.date_to - datetime.timedelta(days=self.date_to.weekday())
        while len(weeks) < WEEKS and monday + datetime.timedelta(days=7) > self.date_from:
            weeks.append(
                (
                    monday,
                    max(monday, self.date_from),
                    min(monday + datetime.timedelta(days=7), self.date_to + datetime.timedelta(1)),
                )
            )
            monday -= datetime.timedelta(days=7)
        return weeks

    def _history(self):
        """A table of the period's weeks (the last WEEKS), newest first: the production
        deployments of each week and the other three figures, "—" where there is none."""
        weeks = self._weeks()
        workspaces = self.workspace_id or self.env["devops.workspace"].search(
            [("active", "=", True)]
        )
        workspaces.check_access("read")

        def moment(day):
            return datetime.datetime.combine(day, datetime.time())

        facts = workspaces._dora_facts(moment(weeks[-1][1]), moment(weeks[0][2]))
        rows = []
        for monday, start, stop in weeks:
            figures = workspaces._dora(moment(start), moment(stop), facts)
            cells = [str(len(figures["deployment_frequency_ids"]))] + [
                self._shown(name, figures[name]) if figures[name] is not None else "—"
                for name in METRICS[1:]
            ]
            cells = "".join(f"<td>{html.escape(cell)}</td>" for cell in cells)
            day = html.escape(format_date(self.env, monday))
            rows.append(f"<tr><td>{day}</td>{cells}</tr>")
        heads = [
            self.env._("Week of"),
            self.env._("Production deployments"),
            self.env._("Lead time"),
            self.env._("Change failure rate"),
            self.env._("Time to restore"),
        ]
        head = "".join(f"<th>{html.escape(h)}</th>" for h in heads)
        return (
            "<table class='table table-sm o_devops_dora_history'>"
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )

    def _open(self, name, model, title, list_view=None):
        self._ensure_one_existing()
        ids = self._metrics()[f"{name}_ids"]
        list_id = self.env.ref(list_view).id if list_view else False
        return {
            "type": "ir.actions.act_window",
            "name": title,
            "res_model": model,
            "view_mode": "list,form",
            "views": [(list_id, "list"), (False, "form")],
            "domain": [("id", "in", ids)],
        }

    def action_open_deployments(self):
        return self._open(
            "deployment_frequency", "devops.deployment", self.env._("Production deployments")
        )

    def action_open_lead_time(self):
        return self._open(
            "lead_time_hours",
            "devops.change",
            self.env._("Changes deployed"),
            "erplibre_devops.devops_change_view_list_lead_time",
        )

    def action_open_failures(self):
        return self._open(
            "change_failure_rate", "devops.deployment", self.env._("Failed production deployments")
        )

    def action_open_incidents(self):
        return self._open(
            "time_to_restore_hours", "devops.incident", self.env._("Incidents restored")
        )
