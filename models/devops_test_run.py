"""A test run: a workspace's Odoo tests (or pytest) at a set of commits, on a throwaway
database, with every test's result kept (``devops.test.result``).

``devops.workspace.run_tests()`` creates one and launches the pipeline "Test" on it
(``devops_pipeline_actions_test.py``): optionally pull, build (reused when nothing changed),
choose the modules, install their dependencies without tests, install them with their tests,
read Odoo's log into results, drop the database.  When the run ends, its counts, the new
failures against its base run and the flaky tests are known, and the author of a commit that
breaks tests is told.
"""

import json

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL
from odoo.tools.sql import escape_psql

from ..engine import testrun
from ..engine.executor import ExecError
from .utils import form_action, open_action

USER = "erplibre_devops.group_devops_user"
MANAGER = "erplibre_devops.group_devops_manager"
STATES = [
    ("queued", "Queued"),
    ("running", "Running"),
    ("passed", "Passed"),
    ("failed", "Failed"),
    ("error", "Broken"),
    ("cancelled", "Cancelled"),
]
FAILING = ("failed", "error")


class DevopsTestRun(models.Model):
    _name = "devops.test.run"
    _inherit = ["devops.input.mixin"]
    _description = "DevOps Test Run"
    _order = "id desc"

    name = fields.Char(readonly=True)
    workspace_id = fields.Many2one(
        "devops.workspace", required=True, ondelete="cascade", index=True, readonly=True
    )
    machine_id = fields.Many2one(related="workspace_id.machine_id", store=True, string="Machine")
    state = fields.Selection(STATES, default="queued", required=True, readonly=True, index=True)
    trigger = fields.Selection(
        [("manual", "By hand"), ("follow", "New commit"), ("webhook", "Webhook")],
        default="manual",
        required=True,
        readonly=True,
    )
    selection = fields.Selection(
        [
            ("all", "The workspace's own modules"),
            ("given", "Chosen modules"),
            ("changed", "Changed since a ref"),
            ("impacted", "Impacted since a ref"),
        ],
        default="all",
        required=True,
        readonly=True,
    )
    since = fields.Char(readonly=True, help="The base ref of changed/impacted.")
    modules = fields.Char(string="Modules tested", readonly=True)
    dependencies = fields.Char(string="Installed first", readonly=True)
    test_tags = fields.Char(readonly=True)
    demo = fields.Boolean(string="Demo data", readonly=True)
    coverage = fields.Boolean(readonly=True, help="Ran under coverage run --branch.")
    keep_db = fields.Boolean(string="Keep the database on failure", readonly=True)
    pull = fields.Boolean(readonly=True, help="The workspace was pulled before the tests.")
    branch = fields.Char(readonly=True, index=True)
    commit = fields.Char(readonly=True, index=True, help="The commit of the main repository.")
    commit_short = fields.Char(string="Commit ", compute="_compute_commit_short")
    commits = fields.Text(string="Commits (JSON)", readonly=True)
    commit_key = fields.Char(readonly=True, index=True, help="The commits of every repository.")
    author_name = fields.Char(string="Author", readonly=True)
    author_email = fields.Char(readonly=True)
    commit_subject = fields.Char(string="Commit message", readonly=True)
    base_commit = fields.Char(readonly=True)
    base_run_id = fields.Many2one("devops.test.run", string="Compared with", readonly=True)
    build_id = fields.Many2one("devops.build", readonly=True, ondelete="set null")
    run_id = fields.Many2one("devops.pipeline.run", string="Pipeline run", readonly=True)
    step_ids = fields.One2many(related="run_id.step_ids", string="Steps", compute_sudo=False)
    database = fields.Char(readonly=True)
    db_kept = fields.Boolean(string="Database kept", readonly=True)
    config_path = fields.Char(readonly=True)
    connect_command = fields.Char(
        compute="_compute_connect_command",
        help="Start an Odoo on the kept database (on the workspace's machine).",
    )
    result_ids = fields.One2many("devops.test.result", "run_id", string="Results", readonly=True)
    failure_ids = fields.Many2many(
        "devops.test.result", string="Failures", compute="_compute_failure_ids"
    )
    compared_with = fields.Char(compute="_compute_failure_ids", string="New failures since")
    http_port = fields.Integer(
        string="HTTP port", readonly=True, help="The port of the tests' HTTP server."
    )
    passed = fields.Integer(readonly=True)
    failed = fields.Integer(readonly=True)
    errors = fields.Integer(readonly=True)
    skipped = fields.Integer(readonly=True)
    total = fields.Integer(readonly=True)
    new_failures = fields.Integer(readonly=True, help="Failing here, not in the compared run.")
    already_failing = fields.Integer(readonly=True, help="Failing here and in the compared run.")
    flaky_count = fields.Integer(string="Flaky", readonly=True)
    coverage_percent = fields.Float(string="Coverage (%)", readonly=True, aggregator="avg")
    coverage_modules = fields.Json(string="Coverage per module", readonly=True)
    coverage_changed = fields.Char(
        string="Coverage of the changes",
        readonly=True,
        help="The statements changed since the base commit that the tests ran.",
    )
    coverage_summary = fields.Char(
        compute="_compute_coverage_summary", string="Coverage of the modules"
    )
    is_latest = fields.Boolean(readonly=True, index=True, help="The latest run of its branch.")
    user_id = fields.Many2one("res.users", string="Launched by", readonly=True)
    date_start = fields.Datetime(string="Started", readonly=True)
    date_end = fields.Datetime(string="Ended", readonly=True)
    duration = fields.Float(string="Duration (s)", readonly=True, aggregator="avg")
    message = fields.Text(readonly=True)

    def _compute_commit_short(self):
        for run in self:
            run.commit_short = (run.commit or "")[:8] or False

    @api.depends("result_ids.state", "base_run_id", "base_commit")
    def _compute_failure_ids(self):
        for run in self:
            run.failure_ids = run.result_ids.filtered(lambda r: r.state in FAILING)
            base = run.base_run_id
            if base:
                commit = (base.commit or run.base_commit or "")[:8]
                run.compared_with = f"{base.name} ({commit})" if commit else base.name
            else:
                run.compared_with = self.env._("no earlier run to compare with")

    def _compute_connect_command(self):
        for run in self:
            build = run.build_id.sudo()
            odoo = run.workspace_id.sudo().odoo_path
            if run.db_kept and build and odoo and run.config_path:
                run.connect_command = (
                    f"{build._python_of()} {odoo}/odoo-bin -c {run.config_path} "
                    f"-d {run.database} --http-port {run.http_port or 8079}"
                )
            else:
                run.connect_command = False

    def _compute_coverage_summary(self):
        for run in self:
            per_module = run.coverage_modules or {}
            run.coverage_summary = (
                ", ".join(f"{m} {p:g} %" for m, p in sorted(per_module.items())) or False
            )

    # --- Launch --------------------------------------------------------------------------

    @api.model
    def _queue(self, workspace, values, user=None):
        """Create a run of ``workspace`` and launch the pipeline "Test" on it, as ``user``
        (default: the current one); returns the run."""
        user = user or self.env.user
        pipeline = self.env.ref("erplibre_devops.pipeline_test")
        run = self.sudo().create(
            {
                **values,
                "workspace_id": workspace.id,
                "user_id": user.id,
                "date_start": fields.Datetime.now(),
            }
        )
        run.name = self.env._("Tests #%(id)s of %(workspace)s", id=run.id, workspace=workspace.name)
        run.database = f"devops_test_{self.env.cr.dbname[:20]}_{run.id}".lower()
        try:
            run_id = pipeline.with_user(user).launch(workspace, {"test_run_id": run.id})
        except UserError:
            run.unlink()
            raise
        run.run_id = run_id
        if run.state == "queued":  # not ended within the launch
            run.state = "running"
        return run

    # --- Results -------------------------------------------------------------------------

    def _store_results(self, results, log_errors=()):
        """Create the results of this run (engine ``TestResult``s, and ``LogError``s as
        results of their own); the counts, new failures and flaky tests follow."""
        self.ensure_one()
        Result = self.env["devops.test.result"].sudo()
        values = [
            {
                "run_id": self.id,
                "module": r.module,
                "test_class": r.test_class,
                "method": r.method,
                "state": r.state,
                "duration": r.duration,
                "traceback": r.traceback or False,
                "message": r.message or False,
            }
            for r in results
        ]
        for error in log_errors:
            first = error.message.split("\n", 1)[0]
            values.append(
                {
                    "run_id": self.id,
                    "module": (error.test[0] if error.test else error.logger)[:100],
                    "test_class": "(logged error)",
                    "method": (error.test[2] if error.test else first)[:200],
                    "state": "error",
                    "traceback": error.message,
                    "message": first[:2000],
                    "log_error": True,
                }
            )
        created = Result.create(values)
        self._update_counts()
        created._mark_history()
        return created

    def _update_counts(self):
        for run in self:
            self.env.cr.execute(
                SQL(
                    "SELECT state, count(*) FROM devops_test_result WHERE run_id = %s"
                    " GROUP BY state",
                    run.id,
                )
            )
            counts = dict(self.env.cr.fetchall())
            run.write(
                {
                    "passed": counts.get("passed", 0),
                    "failed": counts.get("failed", 0),
                    "errors": counts.get("error", 0),
                    "skipped": counts.get("skipped", 0),
                    "total": sum(counts.values()),
                }
            )

    def _compare(self):
        """The new failures and those already failing in the base run."""
        for run in self:
            failing = run.result_ids.filtered(lambda r: r.state in FAILING)
            before = set()
            if run.base_run_id:
                before = set(
                    run.base_run_id.result_ids.filtered(lambda r: r.state in FAILING).mapped(
                        "test_key"
                    )
                )
            new = failing.filtered(lambda r, before=before: r.test_key not in before)
            new.write({"new_failure": True})
            run.write(
                {
                    "new_failures": len(new),
                    "already_failing": len(failing) - len(new),
                    "flaky_count": len(run.result_ids.filtered("flaky")),
                }
            )

    def _find_base_run(self):
        """The run to compare with: the latest finished run at the base commit, else the
        previous finished run of the same branch."""
        self.ensure_one()
        finished = [("state", "in", ("passed", "failed")), ("id", "!=", self.id),
                    ("workspace_id", "=", self.workspace_id.id)]  # fmt: skip
        if self.base_commit:
            found = self.search([*finished, ("commit", "=", self.base_commit)], limit=1)
            if found:
                return found
        return self.search([*finished, ("branch", "=", self.branch or False),
                            ("id", "<", self.id)], limit=1)  # fmt: skip

    def _test_exec(self):
        """The run of the step that ran the tests (its output is the test log)."""
        self.ensure_one()
        step = self.run_id.step_ids.filtered(lambda s: s.action == "test_odoo")[:1]
        return step.exec_id

    # --- The end -------------------------------------------------------------------------

    def _on_run_end(self, pipeline_run):
        """The pipeline run ended: the run's state, the board, the author told."""
        self.ensure_one()
        if self.state not in ("queued", "running"):
            return
        # A failing test step goes on (coverage, then the database dropped or kept): the
        # pipeline run is "done" with a failed step.
        broken = pipeline_run.state != "done" or bool(pipeline_run.failed_step_id)
        if pipeline_run.state == "cancelled":
            state = "cancelled"
        elif not self.result_ids and broken:
            state = "error"  # it broke before any test ran
        elif self.failed or self.errors or broken:
            state = "failed"
        else:
            state = "passed"
        now = fields.Datetime.now()
        message = pipeline_run.failed_step_id.message or pipeline_run.message
        if state == "failed" and not (self.failed or self.errors):
            message = self.env._("No test failed, but the run did not end well: %(message)s",
                                 message=pipeline_run.message or "?")  # fmt: skip
        self.write(
            {
                "state": state,
                "date_end": now,
                "duration": (now - (self.date_start or now)).total_seconds(),
                "message": message,
            }
        )
        if not self.base_run_id and self.result_ids:
            self.base_run_id = self._find_base_run()
        self._compare()
        self._mark_latest()
        if state == "failed" and self.new_failures:
            self._notify_author()
        self.env["devops.change"]._refresh_workspaces(self.workspace_id)
        workspace = self.workspace_id.sudo()
        if workspace.tests_pending:  # a push came while this run was on
            workspace.tests_pending = False
            workspace._queue_automatic("webhook")

    def _mark_latest(self):
        for run in self:
            same = self.sudo().search(
                [("workspace_id", "=", run.workspace_id.id), ("branch", "=", run.branch or False),
                 ("is_latest", "=", True)]
            )  # fmt: skip
            (same - run).write({"is_latest": False})
            run.is_latest = True

    def _notify_author(self):
        """Tell the author of the commit (an Odoo user with that e-mail or login) that it
        breaks tests: a notification in the web client."""
        self.ensure_one()
        email = (self.author_email or "").strip().lower()
        if not email:
            return
        Users = self.env["res.users"].sudo()
        # The address is the pusher's text: its % and _ are letters, not wildcards.
        email = escape_psql(email)
        author = Users.search(["|", ("email", "=ilike", email), ("login", "=ilike", email)],
                              limit=1)  # fmt: skip
        if not author or not author.has_group(USER):
            return
        title = self.env._("Your commit breaks tests")
        message = self.env._(
            "%(count)s new failure(s) in %(name)s at %(commit)s (%(subject)s).",
            count=self.new_failures,
            name=self.name,
            commit=(self.commit or "")[:10],
            subject=self.commit_subject or "",
        )
        self.env["devops.alert.delivery"].sudo().create(
            {
                "channel": "notification",
                "user_id": author.id,
                "target": author.name,
                "payload": json.dumps(
                    {
                        "title": title,
                        "message": message,
                        "type": "danger",
                        "sticky": True,
                        "res_model": self._name,
                        "res_id": self.id,
                    }
                ),
            }
        )

    # --- Buttons -------------------------------------------------------------------------

    def action_drop_database(self):
        """Drop the database a failed run kept (and its configuration file)."""
        self._ensure_one_existing()
        self.check_access("read")
        if not self.env.user.has_group(USER):
            raise AccessError(self.env._("Only DevOps users can drop test databases."))
        run = self.sudo()
        if run.user_id != self.env.user and not self.env.user.has_group(MANAGER):
            raise AccessError(
                self.env._("Only who launched the run (or a manager) drops its database.")
            )
        if not run.db_kept:
            raise UserError(self.env._("This run kept no database."))
        build, workspace = run.build_id, run.workspace_id
        if not build.venv_path or not workspace.odoo_path:
            raise UserError(
                self.env._(
                    "The build of this run (or the workspace's Odoo) is gone: drop the database "
                    "%(database)s with dropdb on the machine.",
                    database=run.database,
                )
            )
        try:
            argv = testrun.cleanup_argv(
                build._python_of(), f"{workspace.odoo_path}/odoo-bin", run.config_path,
                run.database
            )  # fmt: skip
            ok, out = workspace.machine_id._executor().read_stdout(argv, timeout=60)
        except (ExecError, testrun.TestRunInputError) as error:
            ok, out = False, str(error)
        if not ok and not testrun.absent_database(out):
            raise UserError(
                self.env._("The database could not be dropped: %(error)s", error=out[-1000:])
            )
        run.write(
            {
                "db_kept": False,
                "message": "\n".join(
                    filter(None, [run.message, self.env._("The kept database was dropped.")])
                ),
            }
        )
        return True

    def action_view_results(self):
        self._ensure_one_existing()
        return open_action(
            self.env, "erplibre_devops.action_test_result", [("run_id", "=", self.id)]
        )

    def action_view_failures(self):
        self._ensure_one_existing()
        return open_action(
            self.env,
            "erplibre_devops.action_test_result",
            [("run_id", "=", self.id), ("state", "in", FAILING)],
        )

    def action_open_pipeline_run(self):
        self._ensure_one_existing()
        return form_action(self.run_id, target="current")

    def action_rerun(self):
        """The same tests again, at the workspace's current commits."""
        self._ensure_one_existing()
        run = self.sudo()
        modules = (run.modules or "").split(",") if run.selection == "given" else None
        new_id = run.workspace_id.with_env(self.env).run_tests(
            modules=[m for m in modules or [] if m] or None,
            since=run.since or None if run.selection in ("changed", "impacted") else None,
            impacted=run.selection == "impacted",
            test_tags=run.test_tags or None,
        )
        return form_action(self.browse(new_id), target="current")
