"""The Test stage on real parts: a generated Odoo module with passing, failing, erroring,
skipped and flaky tests, run by the pipeline "Test" on the real Odoo tree (a throwaway
database in the test PostgreSQL); the impacted modules of a generated dependency graph; a
branch followed in a bare remote; the push webhook over HTTP with good and bad signatures."""

import hashlib
import hmac
import json
import os
import sys

import psycopg2

from odoo import sql_db
from odoo.exceptions import UserError, ValidationError
from odoo.tests import HttpCase, tagged
from odoo.tools import config

from .test_build import CodeCase, NewInstanceMixin, git, make_repo, manifest, write

TESTS_CORE = """
import os
import unittest

from odoo.tests import TransactionCase

FLAG = {flag!r}
BROKEN = {broken!r}


class TestCore(TransactionCase):
    def test_pass(self):
        self.assertTrue(self.env["res.partner"].search_count([]) >= 0)

    def test_fail(self):
        if os.path.exists(BROKEN):
            self.assertEqual(1 + 1, 3, "arithmetic is broken")

    def test_error(self):
        if os.path.exists(BROKEN):
            raise RuntimeError("the code under test blew up")

    @unittest.skip("not on this machine")
    def test_skip(self):
        pass

    def test_flaky(self):
        self.assertFalse(os.path.exists(FLAG), "the flag file is there")
"""

TESTS_APP = """
from odoo.tests import TransactionCase


class TestApp(TransactionCase):
    def test_app_ok(self):
        self.assertTrue(True)
"""


def database_exists(name):
    connection = sql_db.db_connect("postgres")
    with connection.cursor() as cr:
        cr._cnx.autocommit = True
        raw = cr._cnx.cursor()
        raw.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        return bool(raw.fetchone())


def drop_database(name):
    connection = sql_db.db_connect("postgres")
    with connection.cursor() as cr:
        cr._cnx.autocommit = True
        raw = cr._cnx.cursor()
        try:
            raw.execute(f'DROP DATABASE IF EXISTS "{name}"')
        except psycopg2.Error:
            return


class TestStageMixin(NewInstanceMixin):
    @classmethod
    def make_tested_remote(cls):
        cls.flag = os.path.join(cls.remotes, "flaky-flag")
        cls.broken = os.path.join(cls.remotes, "broken-flag")  # test_fail, test_error fail
        return make_repo(
            cls.remotes,
            "tested",
            {
                "devops_t_core/__manifest__.py": manifest(["base"]),
                "devops_t_core/__init__.py": "",
                "devops_t_core/tests/__init__.py": "from . import test_core\n",
                "devops_t_core/tests/test_core.py": TESTS_CORE.format(
                    flag=cls.flag, broken=cls.broken
                ),
                "devops_t_app/__manifest__.py": manifest(["devops_t_core"]),
                "devops_t_app/__init__.py": "",
                "devops_t_app/tests/__init__.py": "from . import test_app\n",
                "devops_t_app/tests/test_app.py": TESTS_APP,
                "devops_t_other/__manifest__.py": manifest(["base"]),
                "devops_t_other/__init__.py": "",
            },
        )

    def tested_workspace(self):
        workspace = self.new_workspace(
            "Tested",
            repos=[
                {"url": self.bare_odoo, "folder": "odoo"},
                {"url": self.bare_t, "folder": "addons", "branch": "main"},
            ],
        )
        run = self.clone(workspace)
        self.assertEqual(run.state, "done", run.message)
        # The test's own virtualenv, adopted (no pip here): every test run reuses it.
        build = self.env["devops.build"].browse(workspace.build(adopt_path=sys.prefix))
        self.run_all(timeout=120)
        self.assertEqual(build.state, "done", build.message)
        return workspace

    def run_tests(self, workspace, **kwargs):
        test = self.env["devops.test.run"].browse(workspace.run_tests(**kwargs))
        self.addCleanup(drop_database, test.database)
        self.run_all(timeout=900)
        return test

    def result(self, test, method):
        found = test.result_ids.filtered(lambda r: r.method == method)
        steps = [(s.name, s.state, s.message) for s in test.run_id.step_ids]
        self.assertEqual(len(found), 1, f"{method}: {test.result_ids.mapped('test_key')} {steps}")
        return found


@tagged("post_install", "-at_install")
class TestTestRuns(TestStageMixin, CodeCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.bare_odoo = cls.make_odoo_remote()
        cls.bare_t, cls.work_t = cls.make_tested_remote()

    def test_results_history_flaky_and_kept_database(self):
        workspace = self.tested_workspace()
        write(self.broken, "on\n")
        self.addCleanup(os.unlink, self.broken)
        first = self.run_tests(workspace, modules=["devops_t_core"], demo=False, coverage=True)
        self.assertEqual(first.state, "failed", first.message)
        # Coverage was read although tests failed: the module's own code ran.
        steps = [(s.name, s.state, s.message) for s in first.run_id.step_ids]
        self.assertTrue(first.coverage_modules, steps)
        self.assertGreater(first.coverage_modules["devops_t_core"], 0)
        self.assertEqual(first.coverage_percent, first.coverage_modules["devops_t_core"])
        self.assertEqual(first.modules, "devops_t_core")
        self.assertEqual(first.dependencies, "base")
        states = {r.method: r.state for r in first.result_ids.filtered(lambda r: not r.log_error)}
        self.assertEqual(
            states,
            {"test_pass": "passed", "test_fail": "failed", "test_error": "error",
             "test_skip": "skipped", "test_flaky": "passed"},
        )  # fmt: skip
        self.assertEqual((first.passed, first.failed, first.skipped), (2, 1, 1))
        self.assertGreaterEqual(first.errors, 1)
        failing = self.result(first, "test_fail")
        self.assertIn("arithmetic is broken", failing.traceback)
        self.assertTrue(all(r.duration >= 0 for r in first.result_ids))
        self.assertEqual(failing.first_failing_commit, first.commit)
        self.assertEqual(first.commit, git(self.work_t, "rev-parse", "HEAD"))
        self.assertEqual(first.author_email, "test@example.com")
        # The failure is mapped to its source line (the test step's run reads it).
        self.assertTrue(failing.error_id)
        self.assertTrue(failing.error_id.file.endswith("devops_t_core/tests/test_core.py"))
        self.assertGreater(failing.error_id.line, 0)
        context = failing.error_id.exec_id.source_context()
        self.assertTrue(any("1 + 1, 3" in text for c in context for _n, text in c["excerpt"]))
        # The database is gone, and its configuration file (it holds the password).
        self.assertFalse(database_exists(first.database))
        self.assertFalse(first.db_kept)
        self.assertFalse(
            os.path.exists(os.path.join(workspace.path, f".devops/test-{first.id}.conf"))
        )
        self.assertTrue(first.is_latest)

        # The same commits again, the flag file there: test_flaky fails now → flaky.
        write(self.flag, "on\n")
        self.addCleanup(os.unlink, self.flag)
        second = self.run_tests(workspace, modules=["devops_t_core"], demo=False, keep_db=True)
        self.assertEqual(second.state, "failed", second.message)
        self.assertEqual(second.commit_key, first.commit_key)
        self.assertEqual(second.base_run_id, first)
        flaky = self.result(second, "test_flaky")
        self.assertEqual(flaky.state, "failed")
        self.assertTrue(flaky.flaky)
        self.assertTrue(self.result(first, "test_flaky").flaky)
        self.assertFalse(self.result(second, "test_fail").flaky)
        self.assertTrue(flaky.new_failure)
        self.assertFalse(self.result(second, "test_fail").new_failure)
        self.assertEqual(second.new_failures, 1)
        self.assertGreaterEqual(second.already_failing, 2)
        self.assertEqual(self.result(second, "test_fail").history, "✗✗")
        self.assertTrue(second.is_latest)
        self.assertFalse(first.is_latest)
        # Kept on failure, as asked: there, with a command to connect; then dropped.
        self.assertTrue(second.db_kept)
        self.assertTrue(database_exists(second.database))
        self.assertIn(second.database, second.connect_command)
        second.action_drop_database()
        self.assertFalse(database_exists(second.database))
        self.assertFalse(second.db_kept)

    def test_pytest_for_a_repository_without_odoo(self):
        bare, _work = make_repo(
            self.remotes,
            "plain",
            {
                "requirements.txt": "devopsdemo==1.0\n",
                "calc.py": "def add(a, b):\n    return a + b\n",
                "tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n"
                "    assert add(1, 2) == 3\n\n\ndef test_wrong():\n    assert add(1, 1) == 3\n",
            },
        )
        workspace = self.new_workspace("Plain Python", repos=[{"url": bare, "folder": ""}])
        self.assertEqual(self.clone(workspace).state, "done")
        # Run tests adopting a virtualenv: the tests wait for its build, then use it.
        wizard = self.env["devops.test.run.wizard"].create(
            {"workspace_id": workspace.id, "adopt_path": sys.prefix}
        )
        test = self.env["devops.test.run"].browse(wizard.action_run()["res_id"])
        self.run_all(timeout=300)
        build = test.build_id
        self.assertTrue(build.adopted)
        self.assertEqual((build.state, build.venv_path), ("done", sys.prefix))
        self.assertFalse(workspace.build_ids.filtered(lambda b: b.state == "queued"))
        # The repository's own requirements.txt is part of its build.
        self.assertIn(f"{workspace.path}/requirements.txt", build.requirement_files)
        self.assertFalse(workspace.odoo_path)
        self.assertEqual(test.state, "failed", test.message)
        states = {r.method: r.state for r in test.result_ids}
        self.assertEqual(states, {"test_add": "passed", "test_wrong": "failed"})
        self.assertIn("assert 2 == 3", self.result(test, "test_wrong").traceback)
        self.assertFalse(
            os.path.exists(os.path.join(workspace.path, f".devops/test-{test.id}-junit.xml"))
        )

    def test_impacted_selection_and_hostile_values(self):
        workspace = self.tested_workspace()
        base = git(self.work_t, "rev-parse", "HEAD")
        write(os.path.join(self.work_t, "devops_t_core/models.py"), "# changed\n")
        git(self.work_t, "add", "--all")
        git(self.work_t, "commit", "--quiet", "-m", "change core")
        git(self.work_t, "push", "--quiet", self.bare_t, "main")
        git(os.path.join(workspace.path, "addons"), "pull", "--quiet", "origin", "main")
        Runs = self.env["devops.test.run"]
        before = Runs.search_count([])
        Actions = self.env["devops.pipeline.actions"]
        executor = workspace.machine_id._executor()
        for selection, expected in (
            ("changed", ["devops_t_core"]),
            ("impacted", ["devops_t_app", "devops_t_core"]),
            ("all", ["devops_t_app", "devops_t_core", "devops_t_other"]),
        ):
            test = self.env["devops.test.run"].create(
                {"workspace_id": workspace.id, "selection": selection, "since": base}
            )
            self.assertEqual(
                Actions._modules_to_test(self.env.user, test, executor, "addons"), expected
            )
            if selection != "all":
                self.assertEqual(test.base_commit, base)
        made = Runs.search_count([])
        for kwargs in (
            {"modules": "sale;rm -rf /"},
            {"modules": [1, 2]},
            {"test_tags": "/sale,$(id)"},
            {"since": "--upload-pack=touch /tmp/x"},
            {"impacted": True},
            {"impacted": "yes", "since": base},
            {"demo": "no"},
        ):
            with self.assertRaises(UserError, msg=kwargs):
                workspace.run_tests(**kwargs)
        self.assertEqual(Runs.search_count([]), made)  # nothing queued by a refused call
        self.assertEqual(made, before + 3)

    def test_follow_branch_runs_new_commits(self):
        workspace = self.tested_workspace()
        repo = workspace.repo_ids.filtered(lambda r: r.folder == "addons")
        admin = self.env.ref("base.user_admin")
        # Pushed code runs on This machine only when the administrator allowed it.
        with self.assertRaises(UserError):
            repo.with_user(admin).follow = True
        self.env["ir.config_parameter"].set_param("erplibre_devops.automatic_tests_local", "1")
        repo.with_user(admin).follow = True
        self.assertEqual(workspace.test_user_id, admin)
        self.assertIsNone(repo._follow_check())  # the first look: the clone's own commit
        self.assertEqual(repo.remote_commit, repo.commit)
        self.assertIsNone(repo._follow_check())  # nothing new
        # A commit pushed to the remote: the cron pulls it and runs the tests.
        write(os.path.join(self.work_t, "devops_t_app/tests/test_app.py"),
              TESTS_APP.replace("assertTrue(True)", "assertTrue(False, 'broken app')"))  # fmt: skip
        git(self.work_t, "add", "--all")
        git(self.work_t, "commit", "--quiet", "-m", "break the app")
        git(self.work_t, "push", "--quiet", self.bare_t, "main")
        head = git(self.work_t, "rev-parse", "HEAD")
        admin.email = "test@example.com"  # the commits' author: told of what it broke
        self.env["devops.workspace.repo"]._cron_follow()
        test = self.env["devops.test.run"].search(
            [("workspace_id", "=", workspace.id), ("trigger", "=", "follow")]
        )
        self.assertEqual(len(test), 1)
        self.addCleanup(drop_database, test.database)
        self.run_all(timeout=900)
        self.assertEqual(repo.remote_commit, head)
        self.assertEqual(test.commit, head)  # pulled before the tests
        self.assertEqual(test.modules, "devops_t_app,devops_t_core,devops_t_other")
        self.assertEqual(test.dependencies, "base")
        broken = self.result(test, "test_app_ok")
        self.assertEqual(broken.state, "failed")
        self.assertIn("broken app", broken.traceback)
        self.assertEqual(self.result(test, "test_pass").state, "passed")
        self.assertFalse(database_exists(test.database))
        self.assertEqual((test.state, test.new_failures), ("failed", 1))
        self.assertTrue(broken.new_failure)
        told = self.env["devops.alert.delivery"].search(
            [("user_id", "=", admin.id), ("channel", "=", "notification")]
        )
        self.assertEqual(len(told), 1)
        self.assertEqual(json.loads(told.payload)["res_id"], test.id)
        self.assertIn("break the app", json.loads(told.payload)["message"])
        # Fixed and pushed: the next run is green, and so is the board.
        write(os.path.join(self.work_t, "devops_t_app/tests/test_app.py"), TESTS_APP)
        git(self.work_t, "commit", "--quiet", "-am", "fix the app")
        git(self.work_t, "push", "--quiet", self.bare_t, "main")
        self.env["devops.workspace.repo"]._cron_follow()
        fixed = self.env["devops.test.run"].search(
            [("workspace_id", "=", workspace.id), ("trigger", "=", "follow")], limit=1
        )
        self.assertNotEqual(fixed, test)
        self.addCleanup(drop_database, fixed.database)
        self.run_all(timeout=900)
        self.assertEqual(fixed.state, "passed", fixed.message)
        self.assertEqual(fixed.base_run_id, test)
        board = self.env["devops.test.run"].search(
            [("workspace_id", "=", workspace.id), ("is_latest", "=", True)]
        )
        self.assertEqual(board, fixed)
        self.assertEqual(self.result(fixed, "test_app_ok").history, "✗✓")


@tagged("post_install", "-at_install")
class TestWebhook(HttpCase):
    def setUp(self):
        super().setUp()
        self.workspace = self.env["devops.workspace"].create(
            {"name": "Hooked", "path": "/nonexistent/hooked",
             "machine_id": self.env.ref("erplibre_devops.machine_local").id}
        )  # fmt: skip
        self.env["devops.workspace.repo"].create(
            {"workspace_id": self.workspace.id, "url": "/nonexistent/repo.git", "branch": "main",
             "state": "cloned"}
        )  # fmt: skip
        self.admin = self.env.ref("base.user_admin")
        with self.assertRaises(UserError):  # pushed code on This machine: not by default
            self.workspace.with_user(self.admin).action_generate_webhook()
        self.env["ir.config_parameter"].set_param("erplibre_devops.automatic_tests_local", "1")
        self.workspace.with_user(self.admin).action_generate_webhook()
        self.assertEqual(self.workspace.test_user_id, self.admin)
        self.url = self.workspace.with_user(self.admin).webhook_url.split("/erplibre_devops/", 1)[1]
        self.secret = self.workspace._secret_values()["webhook_secret"]

    def post(self, body, headers, url=None):
        return self.url_open(f"/erplibre_devops/{url or self.url}", data=body,
                             headers={"Content-Type": "application/json", **headers})  # fmt: skip

    def runs(self):
        return self.env["devops.test.run"].search([("workspace_id", "=", self.workspace.id)])

    def test_signed_push_queues_a_run_and_bad_ones_are_refused(self):
        body = json.dumps({"ref": "refs/heads/main", "after": "0" * 40}).encode()
        good = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        for headers in (
            {},
            {"X-Hub-Signature-256": "sha256=" + "0" * 64},
            {"X-Hub-Signature-256": good.upper()},
            {"X-Gitea-Signature": "0" * 64},
            {"X-Gitlab-Token": "not-the-secret"},
        ):
            answer = self.post(body, headers)
            self.assertEqual(answer.status_code, 403, headers)
        token_url = self.url.rsplit("/", 1)[0] + "/wrong-token"
        self.assertEqual(self.post(body, {"X-Hub-Signature-256": good}, token_url).status_code, 403)
        self.assertFalse(self.runs())
        # Another branch: nothing to test here.
        other = json.dumps({"ref": "refs/heads/feature"}).encode()
        signature = hmac.new(self.secret.encode(), other, hashlib.sha256).hexdigest()
        answer = self.post(other, {"X-Gitea-Signature": signature})
        self.assertEqual(answer.status_code, 202)
        self.assertFalse(answer.json()["queued"])
        self.assertFalse(self.runs())
        # The good signature: a run is queued, as the automatic tests user, pulling first.
        answer = self.post(body, {"X-Hub-Signature-256": good})
        self.assertEqual(answer.status_code, 202, answer.text)
        self.assertTrue(answer.json()["queued"])
        run = self.runs()
        self.assertEqual(len(run), 1)
        self.assertEqual((run.trigger, run.pull, run.user_id), ("webhook", True, self.admin))
        # GitLab's token header works the same.
        answer = self.post(body, {"X-Gitlab-Token": self.secret})
        self.assertEqual(answer.status_code, 202, answer.text)
        self.assertEqual(len(self.runs()), 2)
        # Too large (chunked too: never read whole), unsigned JSON bombs, archived: refused.
        big = b" " * (1 << 20) + b"{}"
        self.assertEqual(self.post(big, {"X-Gitlab-Token": self.secret}).status_code, 413)
        answer = self.url_open(
            f"/erplibre_devops/{self.url}",
            data=iter([b"[" * 1000] * 2000),
            headers={"Content-Type": "application/json", "X-Gitlab-Token": self.secret},
        )
        self.assertEqual(answer.status_code, 413)
        bomb = b"[" * 100_000
        answer = self.post(bomb, {"X-Gitlab-Token": self.secret})
        self.assertEqual(answer.status_code, 202)  # not a push: nothing queued, no error
        self.workspace.active = False
        self.assertEqual(self.post(body, {"X-Gitlab-Token": self.secret}).status_code, 403)
        self.assertEqual(len(self.runs()), 2)

    def test_author_e_mail_is_no_pattern(self):
        # A commit's author e-mail is the pusher's text: "%" must not match every user.
        run = self.env["devops.test.run"].create(
            {"workspace_id": self.workspace.id, "author_email": "%", "new_failures": 1}
        )
        Delivery = self.env["devops.alert.delivery"]
        before = Delivery.search_count([])
        run._notify_author()
        self.assertEqual(Delivery.search_count([]), before)
        run.author_email = self.admin.email.upper()
        run._notify_author()
        self.assertEqual(Delivery.search_count([("user_id", "=", self.admin.id)]), 1)

    def test_automatic_tests_user_is_a_devops_user(self):
        portal = self.env["res.users"].create(
            {"name": "Portal", "login": "portal_tests_user",
             "groups_id": [(6, 0, [self.env.ref("base.group_portal").id])]}
        )  # fmt: skip
        with self.assertRaises(ValidationError):
            self.workspace.test_user_id = portal

    def test_config_connection_is_this_servers_on_this_machine(self):
        host, _port, user, _password = self.workspace._test_db_connection()
        self.assertEqual(host, config.get("db_host") or False)
        self.assertEqual(user, config.get("db_user") or False)
