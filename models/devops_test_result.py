"""One test's outcome in a test run, with its history: the last outcomes of the same test,
the first commit where it failed (in its current streak of failures), whether it is new
against the run's base, and *flaky* when the same commits both passed and failed it.

An ERROR or CRITICAL line Odoo logged outside any test failure is a result too (``log_error``,
state ``error``), as runbot counts them: a run that logs errors is not green.
"""

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL
from odoo.tools.sql import create_index

from ..engine import errors as error_parser

STATES = [("passed", "Passed"), ("failed", "Failed"), ("error", "Error"), ("skipped", "Skipped")]
FAILING = ("failed", "error")
HISTORY = 10
SYMBOL = {"passed": "✓", "failed": "✗", "error": "!", "skipped": "-"}


class DevopsTestResult(models.Model):
    _name = "devops.test.result"
    _inherit = ["devops.input.mixin"]
    _description = "DevOps Test Result"
    _order = "id desc"
    _rec_name = "test_key"

    run_id = fields.Many2one(
        "devops.test.run", required=True, ondelete="cascade", index=True, readonly=True
    )
    workspace_id = fields.Many2one(related="run_id.workspace_id", store=True, index=True)
    branch = fields.Char(related="run_id.branch", store=True)
    commit = fields.Char(related="run_id.commit", store=True)
    commit_key = fields.Char(related="run_id.commit_key", store=True, index=True)
    date = fields.Datetime(related="run_id.date_start", store=True, string="Date")
    module = fields.Char(required=True, readonly=True, index=True)
    test_class = fields.Char(string="Class", readonly=True)
    method = fields.Char(readonly=True)
    test_key = fields.Char(
        string="Test", compute="_compute_test_key", store=True, index=True, readonly=True
    )
    state = fields.Selection(STATES, required=True, readonly=True, index=True)
    duration = fields.Float(string="Duration (s)", readonly=True, aggregator="avg")
    pass_rate = fields.Float(
        string="Pass rate (%)",
        compute="_compute_test_key",
        store=True,
        aggregator="avg",
        help="100 for a passed test, 0 for a failure or an error: averaged over the tests "
        "that ran (filter out the skipped ones, as the Pass rate menu does), the pass rate.",
    )
    traceback = fields.Text(readonly=True)
    message = fields.Text(readonly=True)
    log_error = fields.Boolean(
        string="Logged error", readonly=True, help="An error Odoo logged outside any test."
    )
    flaky = fields.Boolean(
        readonly=True, index=True, help="The same commits both passed and failed this test."
    )
    new_failure = fields.Boolean(readonly=True, help="It did not fail in the compared run.")
    first_failing_commit = fields.Char(
        readonly=True, help="The commit of the first run of its current streak of failures."
    )
    error_id = fields.Many2one(
        "devops.exec.error",
        string="Error and source",
        readonly=True,
        ondelete="set null",
        help="The failure's traceback as an error of the test step's run: its source lines "
        "and git blame.",
    )
    error_file = fields.Char(related="error_id.file", string="File")
    error_line = fields.Integer(related="error_id.line", string="Line")
    history = fields.Char(
        string="Last outcomes",
        compute="_compute_history",
        help="Newest last: ✓ passed, ✗ failed, ! error, - skipped",
    )

    @api.depends("module", "test_class", "method", "state")
    def _compute_test_key(self):
        for result in self:
            result.test_key = f"{result.module}:{result.test_class}.{result.method}"
            result.pass_rate = 100.0 if result.state == "passed" else 0.0

    def _same_test(self):
        return [("workspace_id", "=", self.workspace_id.id), ("test_key", "=", self.test_key)]

    def init(self):
        # A test's history: its results in a workspace, newest first.
        create_index(
            self.env.cr,
            "devops_test_result_history_idx",
            self._table,
            ["workspace_id", "test_key", "id DESC"],
        )

    def _compute_history(self):
        """One query for the whole page: each result's last HISTORY outcomes (itself and
        the older ones), oldest first."""
        ids = [r.id for r in self if isinstance(r.id, int)]
        found = {}
        if ids:
            self.flush_model(["workspace_id", "test_key", "state"])
            self.env.cr.execute(
                SQL(
                    "SELECT r.id, ARRAY(SELECT o.state FROM devops_test_result o"
                    " WHERE o.workspace_id = r.workspace_id AND o.test_key = r.test_key"
                    " AND o.id <= r.id ORDER BY o.id DESC LIMIT %s)"
                    " FROM devops_test_result r WHERE r.id IN %s",
                    HISTORY,
                    tuple(ids),
                )
            )
            found = dict(self.env.cr.fetchall())
        for result in self:
            states = found.get(result.id) or []
            result.history = "".join(SYMBOL.get(s, "?") for s in reversed(states))

    def _mark_history(self):
        """Flaky flags, first failing commits and the source of each failure, for new
        results."""
        if not self:
            return
        runs = self.mapped("run_id")
        for run in runs:
            mine = self.filtered(lambda r, run=run: r.run_id == run)
            keys = mine.mapped("test_key")
            # The same commits, another outcome: both are flaky.
            others = self.search(
                [("workspace_id", "=", run.workspace_id.id), ("commit_key", "=", run.commit_key),
                 ("test_key", "in", keys), ("run_id", "!=", run.id),
                 ("state", "in", ("passed", "failed", "error"))]
            )  # fmt: skip
            outcomes = {}
            for other in others:
                outcomes.setdefault(other.test_key, set()).add(other.state in FAILING)
            flaky = mine.filtered(
                lambda r, o=outcomes: (
                    r.state in ("passed", *FAILING)
                    and not r.log_error
                    and (r.state not in FAILING) in o.get(r.test_key, ())
                )
            )
            if flaky:
                flaky.write({"flaky": True})
                flaky_keys = set(flaky.mapped("test_key"))
                others.filtered(lambda r, k=flaky_keys: r.test_key in k).write({"flaky": True})
            for result in mine.filtered(lambda r: r.state in FAILING):
                result.first_failing_commit = result._streak_start()
            mine.filtered(lambda r: r.state in FAILING)._link_errors()

    def _streak_start(self):
        """The commit of the oldest run, in this test's current streak of failures on its
        branch."""
        self.ensure_one()
        previous = self.search(
            [*self._same_test(), ("branch", "=", self.branch or False), ("id", "<", self.id),
             ("state", "!=", "skipped")],
            limit=200,
        )  # fmt: skip
        start = self.commit
        for result in previous:
            if result.state not in FAILING:
                break
            start = result.commit
        return start or False

    def _link_errors(self):
        """Each failure's traceback as a devops.exec.error of the step that ran the tests
        (``source_context`` of that run then shows its source lines and git blame)."""
        Error = self.env["devops.exec.error"].sudo()
        for result in self:
            exec_run = result.run_id._test_exec()
            if not exec_run or not result.traceback:
                continue
            found = error_parser.parse(result.traceback)
            parsed = next((e for e in found if e.error_type == "traceback"), None) or (
                found[0] if found else None
            )
            if parsed is None:
                continue
            existing = exec_run.error_ids.filtered(
                lambda e, p=parsed: e.fingerprint == p.fingerprint
            )[:1]
            result.error_id = existing or Error.create(
                {
                    "exec_id": exec_run.id,
                    "error_type": parsed.error_type,
                    "message": parsed.message,
                    "file": parsed.file or False,
                    "line": parsed.line,
                    "fingerprint": parsed.fingerprint,
                    "frames": [list(frame) for frame in parsed.frames] or False,
                }
            )

    def action_open_source(self):
        """The failure's source lines and git blame (the test step's run, where the error
        view reads them from the machine)."""
        self._ensure_one_existing()
        if not self.error_id:
            raise UserError(self.env._("This result has no traceback to map to its source."))
        return self.error_id.exec_id.action_debug()

    def action_view_history(self):
        """Every result of this test in this workspace."""
        self._ensure_one_existing()
        return {
            "type": "ir.actions.act_window",
            "name": self.test_key,
            "res_model": self._name,
            "view_mode": "list,graph,pivot,form",
            "domain": self._same_test(),
        }
