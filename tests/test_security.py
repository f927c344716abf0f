"""What an attack through the ORM/RPC found (issue 8), each with its regression test."""

import contextlib
import inspect
import os
import stat
import subprocess
import time
from unittest.mock import patch

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import new_test_user, tagged
from odoo.tools import config

from odoo.addons.erplibre_devops.engine import crypto
from odoo.addons.erplibre_devops.engine.testing import keygen

from .common import RunnerCase, SSHCase, odoo_cli_argv

# Every public method of the addon's models: each is an RPC endpoint that anyone logged in may
# call.  A new one must be reviewed (its access checks, its argument checks) and added here.
PUBLIC_METHODS = {
    "devops.exec": {"action_cancel", "action_run_again", "source_context", "action_debug"},
    "devops.machine": {
        "action_clear_secrets",
        "action_test_connection",
        "action_accept_host_key",
        "action_open_host_key_wizard",
        "action_forget_host_key",
        "action_view_workspaces",
        "action_view_execs",
        "action_open_exec_wizard",
        "exec_command",
    },
    "devops.workspace": {
        "dora_metrics",
        "action_open_exec_wizard",
        "action_view_execs",
        "exec_command",
        "git_status",
        "action_refresh_git",
        "action_scan_todo",
        "debug_command",
        "action_open_pipeline_wizard",
        "action_view_pipeline_runs",
        "action_open_debug_wizard",
        "action_open_code_wizard",
        "action_generate_deploy_key",
        "action_forget_deploy_key",
        "import_repos_yaml",
        "clone",
        "action_clone",
        "scan_modules",
        "action_scan_modules",
        "changed_modules",
        "build",
        "action_build",
        "action_view_builds",
        "action_view_modules",
        "action_view_repos",
        "action_new_instance",
        "run_tests",
        "action_run_tests",
        "action_view_test_runs",
        "action_generate_webhook",
        "action_forget_webhook",
    },
    "devops.test.run": {
        "action_drop_database",
        "action_view_results",
        "action_view_failures",
        "action_open_pipeline_run",
        "action_rerun",
    },
    "devops.test.result": {"action_open_source", "action_view_history"},
    "devops.test.run.wizard": {"action_run"},
    "devops.workspace.repo": {
        "action_clear_token",
        "action_accept_host_key",
        "action_forget_host_key",
    },
    "devops.build": {"action_rebuild", "action_open_run", "action_view_instances"},
    "devops.instance.new.wizard": {"action_create"},
    "devops.repos.import.wizard": {"action_import"},
    "devops.instance": {
        "action_start",
        "action_restart",
        "action_stop",
        "debug_start",
        "update_code",
        "action_open_update_wizard",
        "action_open_pipeline_wizard",
        "action_view_pipeline_runs",
        "action_open_debug_wizard",
        "action_view_log",
        "action_backup",
        "action_open",
        "action_check",
        "action_view_incidents",
        "action_view_checks",
        "action_open_action_exec",
        "log_tail",
        "overview_data",
        "action_send_test_alert",
        "action_view_deployments",
        "action_refresh_staging",
        "refresh_staging",
    },
    "devops.release": {
        "action_refresh",
        "action_bump_versions",
        "action_candidate",
        "action_back_to_draft",
        "action_approve",
        "action_release",
        "action_cancel",
        "deploy",
        "action_new_deployment",
        "action_view_deployments",
    },
    "devops.deployment": {
        "action_deploy",
        "action_approve",
        "action_reject",
        "promote",
        "action_promote",
        "action_open_run",
    },
    "devops.instance.backup": {"action_restore", "restore_copy", "action_restore_copy"},
    "devops.incident": {"action_acknowledge"},
    "devops.change": {
        "action_refresh",
        "action_start",
        "action_scaffold_module",
        "action_open_scaffold_wizard",
        "action_run_tests",
        "action_request_release",
        "action_view_releases",
        "action_view_deployments",
    },
    "devops.change.scaffold.wizard": {"action_scaffold"},
    "devops.dora.dashboard": {
        "action_open_deployments",
        "action_open_lead_time",
        "action_open_failures",
        "action_open_incidents",
    },
    "devops.alert": {"poll_notifications"},
    "devops.alert.delivery": {"action_retry"},
    "devops.pipeline": {"launch", "action_view_runs", "action_open_launch_wizard"},
    "devops.pipeline.launch.wizard": {"action_run"},
    "devops.pipeline.run": {"action_cancel", "action_rollback", "action_open_target"},
    "devops.pipeline.run.step": {"action_open_exec"},
    "devops.stage": {"action_view_execs"},
    "devops.code.wizard": {
        "action_refresh",
        "action_diff_all",
        "action_create_branch",
        "action_switch_branch",
        "action_commit",
        "action_pull",
        "action_push",
    },
    "devops.code.wizard.file": {"action_diff"},
    "devops.debug.wizard": {"action_run", "action_run_again", "action_analyze"},
    "devops.exec.wizard": {"action_run"},
    "devops.machine.host.key.wizard": {"action_accept"},
    "devops.update.wizard": {"action_run"},
}
ORM_OVERRIDES = {"create", "write", "unlink", "copy_data", "get_values", "set_values"}
# Public methods every model of the addon has (devops.input.mixin), reviewed there.
MIXIN_METHODS = {"devops_last_change"}


@tagged("post_install", "-at_install")
class TestSecurity(RunnerCase):
    def test_public_methods_are_reviewed(self):
        """The runner is private; every other public method is in the reviewed list."""
        self.assertFalse(hasattr(self.Exec, "run_pending"))
        found = {}
        for name, model in self.env.registry.items():
            if not name.startswith("devops."):
                continue
            for cls in type(model).__mro__:
                if not cls.__module__.startswith("odoo.addons.erplibre_devops."):
                    continue
                for attr, value in vars(cls).items():
                    if attr.startswith("_") or attr in ORM_OVERRIDES | MIXIN_METHODS:
                        continue
                    if inspect.isfunction(value):
                        found.setdefault(name, set()).add(attr)
        for name, methods in found.items():
            with self.subTest(model=name):
                self.assertEqual(methods, PUBLIC_METHODS.get(name, set()))

    def test_debug_wizard_shows_no_private_run(self):
        private = self.Exec.browse(
            self.local_machine.with_user(self.devops_manager).exec_command(["echo", "s3cret"])
        )
        self.run_all()
        workspace = self.make_workspace(path=self.tmp)
        Wizard = self.env["devops.debug.wizard"].with_user(self.devops_user)
        with self.assertRaises(AccessError):
            Wizard.create({"workspace_id": workspace.id, "exec_id": private.id})
        wizard = Wizard.create({"workspace_id": workspace.id})
        with self.assertRaises(AccessError):
            wizard.write({"exec_id": private.id})
        # Even a link made behind the ORM's back reads as the user, never as superuser.
        self.env.cr.execute(
            "UPDATE devops_debug_wizard SET exec_id = %s WHERE id = %s", [private.id, wizard.id]
        )
        wizard.invalidate_recordset()
        with self.assertRaises(AccessError):
            wizard.read(["output"])
        # The author's own run reads fine.
        mine = self.Exec.browse(
            self.local_machine.with_user(self.local_user).exec_command(["echo", "mine"])
        )
        self.run_all()
        own = self.env["devops.debug.wizard"].with_user(self.local_user)
        own = own.create({"workspace_id": workspace.id, "exec_id": mine.id})
        self.assertEqual(own.output, "mine\n")

    def test_pipeline_runs_are_private_like_runs(self):
        workspace = self.make_workspace(path=self.tmp)
        instance = self.env["devops.instance"].create(
            {"name": "Private update", "workspace_id": workspace.id, "port": 18069}
        )
        Run = self.env["devops.pipeline.run"]
        run = Run.sudo().create(
            {
                "name": "Private",
                "pipeline_id": self.env.ref("erplibre_devops.pipeline_update").id,
                "workspace_id": workspace.id,
                "instance_id": instance.id,
                "machine_id": workspace.machine_id.id,
                "user_id": self.local_user.id,
                "message": "tail",
                "step_ids": [(0, 0, {"name": "Step", "kind": "command", "message": "tail"})],
            }
        )
        self.assertEqual(Run.with_user(self.local_user).search([]), run)
        self.assertFalse(Run.with_user(self.devops_user).search([]))
        self.assertFalse(
            self.env["devops.pipeline.run.step"].with_user(self.devops_user).search([])
        )
        with self.assertRaises(AccessError):
            run.with_user(self.devops_user).read(["message"])
        self.assertIn(run, Run.with_user(self.devops_manager).search([]))
        for user in (self.local_user, self.devops_manager):  # the audit trail: no forging
            with self.assertRaises(AccessError):
                Run.with_user(user).create({"name": "Forged"})

    def test_commands_on_the_odoo_server_are_a_privilege(self):
        workspace = self.make_workspace(path=self.tmp)
        ssh = self.env["devops.machine"].create(
            {"name": "Remote", "kind": "ssh", "host": "remote.example.com", "ssh_user": "odoo"}
        )
        user = self.devops_user
        for call in (
            lambda: self.local_machine.with_user(user).exec_command(["id"]),
            lambda: workspace.with_user(user).exec_command("id"),
            lambda: workspace.with_user(user).debug_command("psql -l"),
        ):
            with self.assertRaises(AccessError) as caught:
                call()
            self.assertIn("Run commands on the Odoo server", str(caught.exception))
        shared = (
            self.local_machine.with_user(self.devops_manager)
            .with_context(devops_exec_shared=True)
            .exec_command(["true"])
        )
        with self.assertRaises(AccessError):
            self.Exec.browse(shared).with_user(user).action_run_again()
        # The wizard offers SSH machines to such a user, and refuses this one.
        wizard = self.env["devops.exec.wizard"].with_user(user).create({"command": "id"})
        self.assertEqual(wizard.machine_id, ssh)
        self.assertFalse(wizard.may_run_local)
        wizard.machine_id = self.local_machine
        with self.assertRaises(AccessError):
            wizard.action_run()
        # SSH machines are theirs; so is the lifecycle of the instances a manager registered.
        self.assertTrue(ssh.with_user(user).exec_command(["id"]))
        instance = self.env["devops.instance"].create(
            {
                "name": "Registered",
                "workspace_id": workspace.id,
                "port": 18070,
                "start_command": "sleep 0",
            }
        )
        instance.with_user(user).action_start()
        run = instance.action_exec_id
        self.assertTrue(run.builtin)
        self.assertEqual(run.user_id, user)
        # Their own update commands on this machine are refused; the defaults are not.
        with self.assertRaises(AccessError):
            instance.with_user(user).update_code(pip_command="cat /etc/shadow")
        with self.assertRaises(AccessError):
            instance.with_user(user).update_code(update_command="psql -c 'drop table res_users'")
        run = self.env["devops.pipeline.run"].browse(instance.with_user(user).update_code())
        self.assertEqual(run.user_id, user)  # allowed (it fails: this is no git checkout)
        self.assertEqual(run.state, "failed")
        self.assertIn("not a git checkout", run.message)
        # With the group, all of it.
        self.assertTrue(self.local_machine.with_user(self.local_user).exec_command(["id"]))
        self.assertTrue(workspace.with_user(self.local_user).exec_command("id"))

    def test_timeout_below_one_second_is_never_none(self):
        run = self.Exec.browse(self.local_machine.exec_command(["sleep", "30"], timeout=0.5))
        self.assertEqual(run.timeout, 1)
        self.run_all()
        self.assertEqual(run.state, "timeout")
        for timeout in (0, -0.5, "x", True, [1], float("nan")):
            with self.subTest(timeout=timeout), self.assertRaises(UserError):
                self.local_machine.exec_command(["true"], timeout=timeout)

    def test_exit_code_only_when_there_is_one(self):
        missing = self.local_machine.exec_command(["devops-no-such-program"])
        killed = self.local_machine.exec_command(["sh", "-c", "kill -KILL $$"])
        three = self.local_machine.exec_command(["sh", "-c", "exit 3"])
        self.run_all()
        missing, killed, three = self.Exec.browse([missing, killed, three])
        self.assertEqual((missing.state, missing.exit_code), ("failed", -1))
        self.assertEqual(
            (killed.state, killed.exit_code, killed.signal_name), ("failed", -1, "SIGKILL")
        )
        self.assertEqual((three.state, three.exit_code), ("failed", 3))

    def test_arguments_are_checked(self):
        """Wrong types and ranges get a message, never a traceback."""
        workspace = self.make_workspace(path=self.tmp)
        instance = self.env["devops.instance"].create(
            {"name": "Args", "workspace_id": workspace.id, "port": 18071, "start_command": "x"}
        )
        run = self.Exec.browse(self.local_machine.exec_command(["true"]))
        calls = {
            "stage=True": lambda: self.local_machine.exec_command(["true"], stage=True),
            "stage=[]": lambda: self.local_machine.exec_command(["true"], stage=[1]),
            "stage=404": lambda: self.local_machine.exec_command(["true"], stage=404404),
            "cwd=123": lambda: self.local_machine.exec_command(["true"], cwd=123),
            "cwd=relative": lambda: self.local_machine.exec_command(["true"], cwd="tmp"),
            "command=[1]": lambda: self.local_machine.exec_command([1]),
            "command={}": lambda: self.local_machine.exec_command({"a": 1}),
            "around='x'": lambda: run.source_context(around="x"),
            "around=10**9": lambda: run.source_context(around=10**9),
            "modules=123": lambda: instance.update_code(modules=123),
            "modules=a;b": lambda: instance.update_code(modules="sale;id"),
            "modules=newline": lambda: instance.update_code(modules="sale\n"),
            "ref=123": lambda: instance.update_code(ref=123),
            "ref=newline": lambda: instance.update_code(ref="main\n"),
            "ref=option": lambda: instance.update_code(ref="--upload-pack=id"),
            "health_wait='x'": lambda: instance.update_code(health_wait="x"),
            "health_wait=0": lambda: instance.update_code(health_wait=0),
            "test_tags=[]": lambda: instance.debug_start(test_tags=["x"]),
            "test_tags=NUL": lambda: instance.debug_start(test_tags="/a\x00"),
            "fingerprint=1": lambda: self.local_machine.action_accept_host_key(1),
            "missing machine": lambda: self.env["devops.machine"].browse(404404).exec_command("id"),
            "two machines": lambda: (self.local_machine | self._other_machine()).exec_command("id"),
        }
        for label, call in calls.items():
            with self.subTest(call=label), self.assertRaises(UserError) as caught:
                call()
            self.assertTrue(str(caught.exception))
        with self.assertRaises(UserError) as caught:
            self.env["devops.machine"].browse(404404).exec_command("id")
        self.assertIn("does not exist", str(caught.exception))

    def test_source_is_read_only_where_the_user_may_read(self):
        """Error lines come from the output, which a command can fill with any path."""
        workspace = self.make_workspace(path=self.tmp)
        inside = os.path.join(self.tmp, "inside.py")
        with open(inside, "w", encoding="utf-8") as handle:
            handle.write("first\nsecond\n")
        os.symlink("/etc/hostname", os.path.join(self.tmp, "link.py"))
        lines = [
            "/etc/hostname:1: error: outside",
            f"{inside}:2: error: inside",
            f"{self.tmp}/link.py:1: error: a link to outside",
        ]
        Exec = self.Exec.with_user(self.devops_user).sudo()  # a run of the app's, as a user's
        run = self.Exec.browse(
            Exec._enqueue(
                self.local_machine,
                ["printf", "%s\n", *lines],
                cwd=self.tmp,
                workspace=workspace,
                builtin=True,
            )
        )
        self.run_all()
        self.assertEqual(len(run.error_ids), 3)
        found = {c["file"]: c for c in run.with_user(self.devops_user).source_context()}
        self.assertEqual(found[inside]["excerpt"], [(1, "first"), (2, "second")])
        for path in ("/etc/hostname", f"{self.tmp}/link.py"):
            self.assertEqual(found[path]["excerpt"], [])
            self.assertIn("outside the workspace", found[path]["note"])
        # Who may run commands on this machine reads anywhere (they could `cat` it anyway).
        self.env.cr.execute(
            "UPDATE devops_exec SET user_id = %s WHERE id = %s", [self.local_user.id, run.id]
        )
        run.invalidate_recordset()
        found = {c["file"]: c for c in run.with_user(self.local_user).source_context()}
        self.assertTrue(found["/etc/hostname"]["excerpt"])

    def test_dialogs_are_their_users_own(self):
        other = new_test_user(
            self.env, login="devops_other_user", groups="erplibre_devops.group_devops_user"
        )
        wizard = (
            self.env["devops.exec.wizard"]
            .with_user(self.local_user)
            .create({"machine_id": self.local_machine.id, "command": "echo mine"})
        )
        Wizard = self.env["devops.exec.wizard"].with_user(other)
        self.assertFalse(Wizard.search([]))
        with self.assertRaises(AccessError):
            wizard.with_user(other).write({"command": "touch /tmp/PWNED"})
        with self.assertRaises(AccessError):
            wizard.with_user(other).read(["command"])
        # Every dialog of the addon has such a rule.
        for name, model in self.env.registry.items():
            if name.startswith("devops.") and model._transient:
                rules = self.env["ir.rule"].search([("model_id.model", "=", name)])
                with self.subTest(model=name):
                    self.assertTrue(any("create_uid" in rule.domain_force for rule in rules), name)

    def test_archived_machine_runs_nothing(self):
        machine = self._other_machine()
        machine.active = False
        with self.assertRaises(UserError) as caught:
            machine.exec_command(["true"])
        self.assertIn("archived", str(caught.exception))

    def test_rpc_shapes_get_messages(self):
        """What JSON-RPC can send that the ORM would answer with a traceback."""
        machine = self.local_machine.with_user(self.devops_user)
        Machine = self.env["devops.machine"].with_user(self.devops_user)
        calls = {
            "no record": lambda: Machine.browse([]).action_test_connection(),
            "two records": lambda: Machine.browse(
                [self.local_machine.id, self._other_machine().id]
            ).action_view_execs(),
            "a text id": lambda: Machine.browse(["abc"]).action_view_execs(),
            "a dict id": lambda: self.Exec.browse([{"a": 1}]).action_cancel(),
            "a NUL in a search": lambda: self.Exec.search([("command", "=", "a\x00b")]),
            "a bad operator": lambda: Machine.search([("name", "evil", "x")]),
            "a group by a field that is not stored": lambda: (
                self.env["devops.machine"]
                .with_user(self.devops_manager)
                .read_group([], ["ssh_private_key"], ["ssh_private_key"])
            ),
            "an empty date": lambda: self.local_machine.write({"facts_date": ""}),
            "a list that is no command": lambda: self.local_machine.write({"workspace_ids": ["a"]}),
            "a very long name": lambda: self._other_machine().write({"name": "x" * 300_000}),
        }
        for label, call in calls.items():
            with self.subTest(call=label), self.assertRaises(UserError):
                call()
        self.assertTrue(machine.name)
        with self.assertRaises(AccessError):  # not a DevOps user: no action to open
            self.local_machine.with_user(self.plain_user).action_view_execs()

    def _other_machine(self):
        return self.env["devops.machine"].create(
            {"name": "Other", "kind": "ssh", "host": "other.example.com"}
        )

    def test_field_values_are_checked(self):
        """NUL characters, values out of PostgreSQL's range, wrong types, trailing newlines."""
        Machine = self.env["devops.machine"]
        bad_machines = [
            {"host": "exa\x00mple.com"},
            {"host": "example.com\n"},
            {"ssh_user": "od\x00oo"},
            {"ssh_user": "odoo\n"},
            {"port": "22; touch /tmp/PWNED"},
            {"port": 99999999999},
            {"port": 22.5},
            {"port": True},
            {"name": ["a"]},
            {"kind": "telnet"},
            {"no_such_field": 1},
        ]
        for values in bad_machines:
            with self.subTest(values=values), self.assertRaises(ValidationError):
                Machine.create({"name": "Bad", "kind": "ssh", "host": "h.example.com", **values})
        workspace = self.make_workspace(path=self.tmp)
        base = {"name": "Bad instance", "workspace_id": workspace.id, "port": 18072}
        bad_instances = [
            {"database": "db\x00"},
            {"database": "db\n"},
            {"health_url": "http://localhost/\x00"},
            {"start_command": "odoo\x00"},
            {"kind": "docker", "image": "busybox\n"},
            {"port": "8069"},
            {"workspace_id": "1"},
        ]
        for values in bad_instances:
            with self.subTest(values=values), self.assertRaises(ValidationError):
                self.env["devops.instance"].create({**base, **values})
        with self.assertRaises(ValidationError):
            workspace.write({"path": "/srv/x\n"})

    def test_health_urls_are_validated(self):
        workspace = self.make_workspace(path=self.tmp)
        instance = self.env["devops.instance"].create(
            {"name": "Url", "workspace_id": workspace.id, "port": 18073}
        )
        for url in (
            "http://127.0.0.1:99999/",
            "http://h:abc/",
            "http://[::1",
            "ftp://example.com/",
            "http://",
            "http://a b/",
            "http://example.com/\n",
            "http://-oProxyCommand=x/",
            "javascript:alert(1)",
        ):
            with self.subTest(url=url), self.assertRaises(ValidationError):
                instance.health_url = url
        for url in ("http://[::1]:8069/web/health", "https://erp.example.com/web/health"):
            instance.health_url = url
            self.assertEqual(instance.health_url, url)

    def test_duplicate(self):
        machine = self._other_machine()
        self.assertEqual(machine.copy().name, "Other (copy)")
        workspace = self.make_workspace(path=self.tmp)
        copy = workspace.copy()
        self.assertEqual((copy.name, copy.path), ("Workspace (copy)", f"{self.tmp}-copy"))

    def test_debug_a_run_without_workspace(self):
        script = os.path.join(self.tmp, "boom.py")
        with open(script, "w", encoding="utf-8") as handle:
            handle.write("x = 1\nraise SystemExit(1 / 0)\n")
        run = self.Exec.browse(self.local_machine.exec_command(["python3", script]))
        self.run_all()
        wizard = self.env["devops.debug.wizard"].browse(run.action_debug()["res_id"])
        self.assertFalse(wizard.workspace_id)
        (frame,) = wizard.frame_ids
        self.assertEqual((frame.file, frame.line), (script, 2))
        self.assertIn("1 / 0", frame.excerpt)
        with self.assertRaises(UserError):
            wizard.action_run()

    def test_secrets_are_encrypted_at_rest(self):
        machine = self._other_machine()
        machine.ssh_password = "pa55-w0rd"
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT name, value FROM devops_secret WHERE res_model = %s AND res_id = %s",
            ["devops.machine", machine.id],
        )
        ((name, value),) = self.env.cr.fetchall()
        self.assertEqual(name, "ssh_password")
        self.assertTrue(value.startswith("fernet:"))
        self.assertNotIn("pa55-w0rd", value)
        self.assertEqual(machine._secret_values(), {"ssh_password": "pa55-w0rd"})
        keyring = self.env["devops.secret"]._keyring()
        if not (config.get(crypto.CONFIG_KEY) or os.environ.get(crypto.ENV_VAR)):
            self.assertEqual(keyring.path, crypto.key_file(config["data_dir"], self.env.cr.dbname))
            self.assertEqual(stat.S_IMODE(os.stat(keyring.path).st_mode), 0o600)
        # Gone with their machine.
        machine.unlink()
        self.assertFalse(self.env["devops.secret"].sudo().search([("res_id", "=", machine.id)]))

    def test_rekey(self):
        data_dir = self.make_tempdir()
        machine = self._other_machine()
        with (
            patch.dict(config.options, {"data_dir": data_dir, crypto.CONFIG_KEY: False}),
            patch.dict(os.environ, {crypto.ENV_VAR: ""}),
        ):
            machine.ssh_password = "before-rekey"
            path = crypto.key_file(data_dir, self.env.cr.dbname)
            with open(path, encoding="ascii") as handle:
                old_key = handle.read().strip()
            secret = self.env["devops.secret"].sudo().search([("res_id", "=", machine.id)])
            old_token = secret.value
            count, message = self.env["devops.secret"]._rekey_command(commit=False)
            self.assertGreaterEqual(count, 1)
            self.assertIn(path, message)
            with open(path, encoding="ascii") as handle:
                new_key = handle.read().strip()
            self.assertNotEqual(new_key, old_key)
            self.assertFalse(os.path.exists(path + ".new"))
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
            self.assertNotEqual(secret.value, old_token)
            self.assertEqual(machine._secret_values(), {"ssh_password": "before-rekey"})
            with self.assertRaises(crypto.SecretKeyError):  # the old key opens nothing now
                crypto.KeyRing([old_key], "old").decrypt(secret.value)
            # A wrong key gives a message that says what to do, not a traceback.
            with open(path, "w", encoding="ascii") as handle:
                handle.write(crypto.new_key())
            with self.assertRaises(UserError) as caught:
                machine._secret_values()
            self.assertIn("the key changed", str(caught.exception))

    def test_plaintext_secrets_of_18_0_1_0_0_are_adopted(self):
        machine = self._other_machine()
        self.env.cr.execute(
            "CREATE TABLE devops_machine_secret (id serial, machine_id int, kind varchar,"
            " value text)"
        )
        self.env.cr.execute(
            "INSERT INTO devops_machine_secret (machine_id, kind, value)"
            " VALUES (%s, 'ssh_password', 'old-clear-text')",
            [machine.id],
        )
        self.assertEqual(self.env["devops.secret"]._adopt_plaintext(), 1)
        self.assertEqual(machine._secret_values(), {"ssh_password": "old-clear-text"})
        self.env.cr.execute("SELECT count(*) FROM devops_machine_secret")
        self.assertEqual(self.env.cr.fetchone()[0], 0)

    def test_rekey_command_line(self):
        """``odoo-bin devops_rekey`` runs end to end (with a data dir of its own)."""
        data_dir = self.make_tempdir()
        result = subprocess.run(
            odoo_cli_argv("devops_rekey", self.env.cr.dbname, "--data-dir", data_dir),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        self.assertEqual(result.returncode, 0, result.stderr[-3000:])
        self.assertIn("re-encrypted", result.stdout)
        self.assertTrue(os.path.exists(crypto.key_file(data_dir, self.env.cr.dbname)))


@tagged("post_install", "-at_install")
class TestSecuritySSH(SSHCase):
    def test_host_key_is_accepted_only_as_seen(self):
        machine = self.ssh_machine.with_user(self.devops_manager)
        machine.action_test_connection()
        seen = machine.host_key_offered_fingerprint
        self.assertTrue(seen)
        with self.assertRaises(UserError):
            machine.action_accept_host_key()  # which key? the one you saw
        with self.assertRaises(UserError):
            machine.action_accept_host_key("SHA256:not-what-was-shown")
        # Meanwhile, a user's test saw another key: what the manager saw is no longer offered.
        _private, other = keygen(os.path.join(self.tmp, "other_host_key"))
        self.ssh_machine.sudo().write(
            {"host_key_offered": other, "host_key_offered_fingerprint": "SHA256:other"}
        )
        with self.assertRaises(UserError) as caught:
            machine.action_accept_host_key(seen)
        self.assertIn("another key", str(caught.exception))
        self.assertFalse(machine.host_key)
        # As the form's button does: the fingerprint it shows, in the context.
        machine.with_user(self.devops_user).action_test_connection()
        machine.with_context(
            devops_host_key_fingerprint=machine.host_key_offered_fingerprint
        ).action_accept_host_key()
        self.assertEqual(machine.host_key, self.sshd.host_key)

    def test_recovery_stops_what_a_dead_runner_left_on_the_remote_machine(self):
        self.trust_ssh_machine()
        pid_file = os.path.join(self.tmp, "remote-daemon.pid")
        script = f"setsid sh -c 'echo $$ > {pid_file}; exec sleep 300' > /dev/null 2>&1 & echo ok"
        run = self.Exec.browse(self.ssh_machine.exec_command(script))
        self.run_all()
        self.assertEqual(run.state, "done")
        with open(pid_file, encoding="ascii") as handle:
            pid = int(handle.read())
        self.addCleanup(_kill_quietly, pid)
        self.assertTrue(_alive(pid))
        # As if its runner had died while the command ran.
        self.env.cr.execute("UPDATE devops_exec SET state = 'running' WHERE id = %s", [run.id])
        self.run_all()
        self.assertEqual(run.state, "interrupted")
        self.assertIn("was stopped", run.error_message)
        self.assertTrue(_gone(pid), "the remote process outlived its interrupted run")


def _alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _gone(pid, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
                if handle.read().split(") ")[-1].startswith("Z"):
                    return True
        except OSError:
            return True
        time.sleep(0.05)
    return False


def _kill_quietly(pid):
    with contextlib.suppress(OSError):
        os.kill(pid, 9)
