"""Built-in actions of the Test stage: the steps of the pipeline "Test" on a devops.test.run
(its id is the run's parameter ``test_run_id``).

pull (runs of a followed branch) → build (reused when nothing changed) → choose the modules
and write the test configuration → install their dependencies without tests → install them
with their tests (or pytest) and read the results → coverage (when asked) → drop the
database.  A failure rolls back to "drop the database" (kept when the run asks).
"""

import hashlib
import json
import zlib

from odoo import api, models
from odoo.exceptions import AccessError, UserError

from ..engine import build as build_engine
from ..engine import git, odoo_tree, service, testlog, testrun
from ..engine.executor import ExecError
from .devops_pipeline_actions import Outcome, action, done, failed, skipped

MAX_LOG = 256 * 2**20


class DevopsPipelineActions(models.AbstractModel):
    _inherit = "devops.pipeline.actions"

    @api.model
    def _test_of(self, step):
        """The test run of a step's pipeline run (of the same workspace, and this run's)."""
        run = step.run_id
        test = run._param_record("test_run_id", "devops.test.run")
        return test if test.run_id in (run, run.browse()) else self.env["devops.test.run"]

    def _team_queue(self, step, argv):
        """Queue a step's command as a run every DevOps user sees (test runs are the
        team's), with no variable added."""
        return self.with_context(devops_exec_shared=True)._queue(step, argv, env={})

    def _no_test(self):
        return failed(self.env._("No test run: start one with Run tests on a workspace."))

    # --- Pull, build -------------------------------------------------------------------

    @action("test_pull", "Test: pull the workspace (runs of a followed branch)", ("workspace",))
    def _action_test_pull(self, step):
        test = self._test_of(step)
        if not test:
            return self._no_test()
        if not test.pull:
            return skipped(self.env._("The tests run at the workspace's current commits."))
        return self.with_context(devops_exec_shared=True)._action_git_checkout(step)

    @api.model
    def _after_test_pull(self, step, exec_run):
        return self._after_git_checkout(step, exec_run)

    @action("test_build", "Test: build (reused when nothing changed)", ("workspace",))
    def _action_test_build(self, step):
        test = self._test_of(step)
        if not test:
            return self._no_test()
        workspace = test.workspace_id
        # A workspace whose Python environment was adopted keeps using it (one being adopted
        # right now, as Run tests with a virtualenv to adopt does, is waited for).
        adopted = workspace.build_ids.filtered(
            lambda b: b.adopted and b.state in ("queued", "running", "done")
        )[:1]
        if adopted.state in ("queued", "running"):
            test.build_id = adopted
            return self._check_test_build(step)
        try:
            user_workspace = workspace.with_user(step.run_id.user_id)
            build_id = user_workspace.with_context(devops_build_same_env=True).build(
                adopt_path=adopted.venv_path or None
            )
        except (UserError, AccessError) as error:
            return failed(str(error.args[0] if error.args else error))
        test.build_id = build_id
        return self._check_test_build(step)

    @api.model
    def _check_test_build(self, step):
        return self._build_outcome(self._test_of(step).build_id, wait=3)

    # --- Prepare -----------------------------------------------------------------------

    @action("test_prepare", "Test: choose the modules, write the configuration", ("workspace",))
    def _action_test_prepare(self, step):
        test = self._test_of(step)
        if not test:
            return self._no_test()
        workspace = test.workspace_id
        executor = workspace.machine_id._executor()
        try:
            main = self._read_commits(test, executor)
            if not workspace.odoo_path:
                return self._prepare_pytest(step)
            modules = self._modules_to_test(step.run_id.user_id, test, executor, main)
        except (ExecError, UserError, AccessError, testrun.TestRunInputError) as error:
            return failed(str(error.args[0] if error.args else error))
        if not modules:
            step.run_id._set_data(nothing_to_test=True)
            return done(self.env._("No module to test."))
        graph = {
            m.name: {d for d in (m.depends or "").split(",") if d} for m in workspace.module_ids
        }
        known = set(graph)
        dependencies = [
            d for d in odoo_tree.dependencies(graph, modules) if d in known and d not in modules
        ]
        test.write({"modules": ",".join(modules), "dependencies": ",".join(dependencies)})
        try:
            # From a point of its own in 20000-39999: two test runs starting at the same
            # moment on one machine (two workspaces, two Odoo databases) do not both take
            # the first free port.
            start = 20000 + zlib.crc32(f"{self.env.cr.dbname}:{test.id}".encode()) % 20000
            port_ok, port = executor.read_stdout(build_engine.free_port_argv(start), timeout=20)
            self._write_test_config(test, executor)
        except (ExecError, build_engine.BuildInputError, UserError) as error:
            return failed(str(error.args[0] if error.args else error))
        test.http_port = int(port) if port_ok and port.strip().isdigit() else 18069
        step.run_id._set_data(http_port=test.http_port)
        return done(
            self.env._(
                "Modules to test (%(count)s): %(modules)s; installed first: %(deps)s.",
                count=len(modules),
                modules=", ".join(modules),
                deps=", ".join(dependencies) or "base",
            )
        )

    @api.model
    def _main_folder(self, workspace, repos):
        """The repository a run is "at": the followed one, else the first that does not
        hold Odoo itself (the team's own code), else the first."""
        base = workspace.path.rstrip("/")
        odoo = (workspace.odoo_path or "").rstrip("/")

        def holds_odoo(repo):
            folder = f"{base}/{repo.folder}" if repo.folder else base
            return bool(odoo) and (odoo == folder or odoo.startswith(folder + "/"))

        own = repos.filtered(lambda r: not holds_odoo(r)) or repos
        chosen = own.filtered("follow")[:1] or own[:1]
        return chosen.folder or "."

    @api.model
    def _read_commits(self, test, executor):
        workspace = test.workspace_id
        base = workspace.path.rstrip("/")
        repos = workspace._repos_in_order()
        folders = [r.folder or "." for r in repos] or ["."]
        ok, out = executor.read_stdout(git.heads_argv(folders), cwd=base, timeout=30)
        heads = git.parse_heads(out) if ok else {}
        main = self._main_folder(workspace, repos) if repos else "."
        sha, branch = (heads.get(main) or ["", ""])[:2]
        values = {
            "commits": json.dumps(heads, sort_keys=True),
            "commit_key": hashlib.sha1(  # noqa: S324 - a key, not a signature
                json.dumps(sorted((f, h[0]) for f, h in heads.items())).encode()
            ).hexdigest(),
            "commit": sha or False,
            "branch": branch if branch and branch != "HEAD" else test.branch or False,
        }
        if sha:
            ok, out = executor.read_stdout(
                ["git", "log", "-1", "--format=%an%x00%ae%x00%s", sha],
                cwd=f"{base}/{main}" if main != "." else base,
                env=git.GIT_ENV,
                timeout=30,
            )
            parts = out.rstrip("\n").split("\0") if ok else []
            if len(parts) == 3:
                values.update(
                    author_name=parts[0][:200], author_email=parts[1][:200],
                    commit_subject=parts[2][:500],
                )  # fmt: skip
        test.write(values)
        test._mark_latest()  # the board shows it (running) from now on
        return main

    @api.model
    def _modules_to_test(self, user, test, executor, main):
        workspace = test.workspace_id
        own = workspace.module_ids.filtered(lambda m: m.installable)
        names = set(own.mapped("name"))
        if test.selection == "given":
            chosen = [m for m in (test.modules or "").split(",") if m]
            missing = sorted(set(chosen) - names)
            if missing:
                raise UserError(
                    self.env._("Not found in the workspace: %(names)s.",
                               names=", ".join(missing))
                )  # fmt: skip
            return sorted(chosen)
        if test.selection in ("changed", "impacted"):
            user_workspace = workspace.with_user(user)
            base = test.base_commit
            if not base:
                folder = workspace.path.rstrip("/")
                ok, out = executor.read_stdout(
                    [
                        "git",
                        "rev-parse",
                        "--verify",
                        "--end-of-options",
                        f"{test.since}^{{commit}}",
                    ],
                    cwd=folder if main == "." else f"{folder}/{main}",
                    env=git.GIT_ENV,
                    timeout=30,
                )
                base = out.strip() if ok else ""
                test.base_commit = base or False
            changed = user_workspace.changed_modules(
                test.since, "HEAD", impacted=test.selection == "impacted"
            )
            return sorted(set(changed) & names)
        return sorted(own.filtered(lambda m: not m.odoo_core).mapped("name"))

    @api.model
    def _write_test_config(self, test, executor):
        workspace = test.workspace_id
        host, port, user, password = workspace._test_db_connection()
        base = workspace.path.rstrip("/")
        path = f"{base}/{service.STATE_DIR}/test-{test.id}.conf"
        text = build_engine.odoo_config(
            {
                "addons_path": workspace.addons_path or None,
                "data_dir": f"{base}/{service.STATE_DIR}/test-data",
                "db_host": host or None,
                "db_port": port or None,
                "db_user": user or None,
                "db_password": password or None,
                "list_db": False,
                "screenshots": f"{base}/{service.STATE_DIR}/test-{test.id}-screenshots",
                "max_cron_threads": 0,
            }
        )
        executor.write_file(path, text.encode(), mode=0o600)
        test.config_path = path

    @api.model
    def _prepare_pytest(self, step):
        step.run_id._set_data(pytest=True)
        return done(self.env._("No Odoo tree in the workspace: its tests run with pytest."))

    # --- Install, test -----------------------------------------------------------------

    def _odoo_argv_parts(self, test):
        build = test.build_id
        workspace = test.workspace_id
        return build._python_of(), f"{workspace.odoo_path}/odoo-bin", test.config_path

    @action("test_install", "Test: a database with the dependencies (no tests)", ("workspace",))
    def _action_test_install(self, step):
        test = self._test_of(step)
        if not test:
            return self._no_test()
        data = step.run_id._data()
        if data.get("pytest") or data.get("nothing_to_test"):
            return skipped(self.env._("Nothing to install."))
        dependencies = [d for d in (test.dependencies or "").split(",") if d]
        try:
            argv = testrun.install_argv(
                *self._odoo_argv_parts(test), test.database, dependencies, test.demo
            )
        except (testrun.TestRunInputError, UserError) as error:
            return failed(str(error.args[0] if error.args else error))
        step.run_id._set_data(database_made=True)
        return self._team_queue(step, argv)

    @api.model
    def _after_test_install(self, step, _exec_run):
        test = self._test_of(step)
        return done(
            self.env._(
                "%(database)s made with %(modules)s.",
                database=test.database,
                modules=(test.dependencies or "base").replace(",", ", "),
            )
        )

    @action("test_odoo", "Test: run the tests and read the results", ("workspace",))
    def _action_test_odoo(self, step):
        test = self._test_of(step)
        if not test:
            return self._no_test()
        run = step.run_id
        data = run._data()
        if data.get("nothing_to_test"):
            return skipped(self.env._("No module to test."))
        try:
            if data.get("pytest"):
                python = test.build_id._python_of()
                return self._team_queue(step, testrun.pytest_argv(python, self._junit_path(test)))
            modules = [m for m in (test.modules or "").split(",") if m]
            coverage = None
            if test.coverage:
                paths = self._module_paths(test)
                coverage = (self._coverage_path(test), sorted(paths.values()))
            argv = testrun.test_argv(
                *self._odoo_argv_parts(test), test.database, modules, test.test_tags,
                data.get("http_port") or 18069, test.demo, coverage,
            )  # fmt: skip
        except (testrun.TestRunInputError, UserError) as error:
            return failed(str(error.args[0] if error.args else error))
        return self._team_queue(step, argv)

    def _module_paths(self, test):
        names = set((test.modules or "").split(","))
        return {m.name: m.path for m in test.workspace_id.module_ids if m.name in names}

    def _state_dir(self, test):
        return f"{test.workspace_id.path.rstrip('/')}/{service.STATE_DIR}"

    def _coverage_path(self, test):
        return f"{self._state_dir(test)}/test-{test.id}.coverage"

    def _junit_path(self, test):
        return f"{self._state_dir(test)}/test-{test.id}-junit.xml"

    @api.model
    def _after_test_odoo(self, step, exec_run):
        return self._read_results(step, exec_run)

    @api.model
    def _failed_test_odoo(self, step, exec_run):
        return self._read_results(step, exec_run)

    @api.model
    def _read_results(self, step, exec_run):
        test = self._test_of(step)
        if not test:
            return self._no_test()
        if exec_run.state == "cancelled":
            return Outcome("cancelled", exec_run._problem())
        executor = test.workspace_id.machine_id._executor()
        if step.run_id._data().get("pytest"):
            return self._read_junit(test, executor, exec_run)
        log = testlog.parse(self._full_output(exec_run))
        test._store_results(log.results, log.errors)
        self._attach_screenshots(test, executor)
        counts = self.env._(
            "%(total)s tests: %(passed)s passed, %(failed)s failed, %(errors)s errors, "
            "%(skipped)s skipped.",
            total=len(log.results),
            passed=log.count("passed"),
            failed=log.count("failed"),
            errors=log.count("error") + len(log.errors),
            skipped=log.count("skipped"),
        )
        if log.succeeded and exec_run.state == "done":
            return done(counts)
        if not log.clean_shutdown:
            return failed(
                self.env._("%(counts)s Odoo did not stop cleanly (crash, kill or timeout): "
                           "%(problem)s", counts=counts, problem=exec_run._problem())
            )  # fmt: skip
        if not log.results:
            return failed(
                self.env._("No test ran: %(problem)s", problem=exec_run._problem()[-2000:])
            )
        return failed(counts)

    def _full_output(self, exec_run):
        """The whole output of a run: its attachment when the stored text was cut."""
        exec_run = exec_run.sudo()
        if exec_run.output_truncated and exec_run.output_attachment_id:
            raw = exec_run.output_attachment_id.raw or b""
            return raw[:MAX_LOG].decode("utf-8", "replace")
        return exec_run.output or ""

    def _read_junit(self, test, executor, exec_run):
        path = self._junit_path(test)
        ok, out = executor.read_stdout(["cat", "--", path], timeout=60, limit=testrun.MAX_JUNIT)
        executor.read_stdout(["rm", "-f", "--", path], timeout=30)
        if not ok:
            return failed(
                self.env._("pytest wrote no report: %(problem)s", problem=exec_run._problem())
            )
        try:
            results = testrun.parse_junit(out)
        except (testrun.TestRunInputError, SyntaxError) as error:
            return failed(str(error))
        test._store_results(results)
        bad = [r for r in results if r.state in ("failed", "error")]
        message = self.env._("%(total)s tests, %(bad)s failing.", total=len(results), bad=len(bad))
        return failed(message) if bad or exec_run.state != "done" else done(message)

    def _attach_screenshots(self, test, executor):
        """The screenshots Odoo saved of failing browser tests, attached to the test run."""
        folder = f"{self._state_dir(test)}/test-{test.id}-screenshots"
        # One command with one timeout: this runs in the runner's worker (killed at 120 s).
        ok, out = executor.read_stdout(testrun.screenshots_argv(folder), timeout=60,
                                       limit=80 << 20)  # fmt: skip
        self.env["ir.attachment"].sudo().create(
            [
                {"name": name, "res_model": test._name, "res_id": test.id, "datas": data,
                 "mimetype": "image/png"}
                for name, data in (testrun.parse_screenshots(out) if ok else [])
            ]
        )  # fmt: skip

    # --- Coverage ----------------------------------------------------------------------

    @action("test_coverage", "Test: read the coverage (when asked)", ("workspace",))
    def _action_test_coverage(self, step):
        test = self._test_of(step)
        if not test:
            return self._no_test()
        if not test.coverage or step.run_id._data().get("pytest"):
            return skipped(self.env._("Coverage was not asked for."))
        argv = testrun.coverage_json_argv(
            test.build_id._python_of(),
            self._coverage_path(test),
            f"{self._coverage_path(test)}.json",
        )
        return self._team_queue(step, argv)

    @api.model
    def _after_test_coverage(self, step, _exec_run):
        test = self._test_of(step)
        executor = test.workspace_id.machine_id._executor()
        path = f"{self._coverage_path(test)}.json"
        ok, out = executor.read_stdout(["cat", "--", path], timeout=60, limit=64 << 20)
        executor.read_stdout(["rm", "-f", "--", path, self._coverage_path(test)], timeout=30)
        report = out if ok else ""
        cwd = test.workspace_id.path
        per_module = testrun.parse_coverage(report, self._module_paths(test), cwd)
        total = sum(per_module.values()) / len(per_module) if per_module else 0.0
        values = {"coverage_modules": per_module, "coverage_percent": round(total, 1)}
        if test.base_commit and report:
            values["coverage_changed"] = self._changed_coverage(test, executor, report)
        test.write(values)
        return done(self.env._("Coverage: %(summary)s.", summary=test.coverage_summary or "none"))

    def _changed_coverage(self, test, executor, report):
        """What the tests ran of the statements changed since the base commit (text)."""
        workspace = test.workspace_id
        main = self._main_folder(workspace, workspace._repos_in_order())
        root = workspace.path.rstrip("/") + ("" if main == "." else f"/{main}")
        try:
            ok, diff = executor.read_stdout(
                testrun.changed_lines_argv(test.base_commit), cwd=root, env=git.GIT_ENV,
                timeout=60, limit=64 << 20,
            )  # fmt: skip
        except (ExecError, testrun.TestRunInputError):
            ok, diff = False, ""
        changed = testrun.parse_changed_lines(diff, root) if ok else {}
        covered, measured = testrun.changed_coverage(report, changed, workspace.path)
        if not measured:
            return self.env._("No changed statement.")
        return self.env._(
            "%(covered)s of %(measured)s changed statements ran (%(percent)s %%).",
            covered=covered,
            measured=measured,
            percent=round(100.0 * covered / measured, 1),
        )

    # --- Drop --------------------------------------------------------------------------

    @action("test_drop", "Test: drop the database", ("workspace",))
    def _action_test_drop(self, step):
        test = self._test_of(step)
        if not test:
            return self._no_test()
        data = step.run_id._data()
        if not data.get("database_made"):
            self._remove_config(test)
            return skipped(self.env._("No database was made."))
        if test.keep_db and (step.rollback or step.run_id.failed_step_id):
            test.db_kept = True
            return skipped(
                self.env._("Kept for you: %(database)s (Drop it from the test run).",
                           database=test.database)
            )  # fmt: skip
        try:
            argv = testrun.cleanup_argv(*self._odoo_argv_parts(test), test.database)
        except (testrun.TestRunInputError, UserError) as error:
            return failed(str(error.args[0] if error.args else error))
        return self._team_queue(step, argv)

    @api.model
    def _after_test_drop(self, step, _exec_run):
        return done(self.env._("%(database)s dropped.", database=self._test_of(step).database))

    @api.model
    def _failed_test_drop(self, _step, exec_run):
        if testrun.absent_database(exec_run.output):
            return done(self.env._("The database was not there any more."))
        return failed(exec_run._problem())

    def _remove_config(self, test):
        if test.config_path:
            try:
                test.workspace_id.machine_id._executor().read_stdout(
                    ["rm", "-f", "--", test.config_path], timeout=30
                )
            except ExecError:
                return
        test.config_path = False
