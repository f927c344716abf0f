import os
import threading
import time

import psutil

from odoo import SUPERUSER_ID, api
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from .common import RunnerCase, xmlid


@tagged("post_install", "-at_install")
class TestExec(RunnerCase):
    def test_local_run(self):
        workspace = self.make_workspace(path=self.tmp)
        run_id = workspace.exec_command(
            ["sh", "-c", "pwd; sleep 0.2; echo oops >&2; sleep 0.2; echo done"]
        )
        run = self.Exec.browse(run_id)
        self.assertEqual(run.state, "queued")
        self.assertEqual(run.user_id, self.env.user)
        self.assertEqual(run.cwd, self.tmp)
        self.assertEqual(self.run_all(), 1)
        self.assertEqual(run.state, "done")
        self.assertEqual(run.exit_code, 0)
        self.assertEqual(run.output, f"{self.tmp}\noops\ndone\n")
        self.assertEqual(run.output_stderr, "oops\n")
        self.assertEqual(run.output_size, len(run.output))
        self.assertGreater(run.duration, 0)
        self.assertTrue(run.date_start and run.date_end)
        self.assertFalse(run.error_ids)
        self.assertEqual(self.run_all(), 0)

    def test_string_command_failure_and_errors(self):
        run_id = self.local_machine.exec_command(
            "echo start; python3 -c 'import json; json.loads(\"{\")'", stage="test"
        )
        self.run_all()
        run = self.Exec.browse(run_id)
        self.assertEqual(run.state, "failed")
        self.assertEqual(run.exit_code, 1)
        self.assertEqual(run.stage_id, self.env.ref(xmlid("stage_test")))
        self.assertTrue(run.output.startswith("start\n"))
        (error,) = run.error_ids
        self.assertEqual(error.error_type, "traceback")
        self.assertIn("JSONDecodeError", error.message)
        self.assertTrue(error.file.endswith("json/decoder.py"))
        self.assertGreater(error.line, 0)
        self.assertEqual(run.error_count, 1)

    def test_timeout_and_signal(self):
        slow = self.local_machine.exec_command(["sleep", "30"], timeout=1)
        killed = self.local_machine.exec_command(["sh", "-c", "kill -KILL $$"])
        started = time.monotonic()
        self.run_all()
        self.assertLess(time.monotonic() - started, 10)
        slow, killed = self.Exec.browse([slow, killed])
        self.assertEqual(slow.state, "timeout")
        self.assertEqual(slow.signal_name, "SIGTERM")
        self.assertEqual(killed.state, "failed")
        self.assertEqual(killed.signal_name, "SIGKILL")

    def test_cancel_queued(self):
        run = self.Exec.browse(self.local_machine.exec_command(["true"]))
        run.action_cancel()
        self.assertEqual(run.state, "cancelled")
        self.assertEqual(self.run_all(), 0)

    def test_cancel_running(self):
        pidfile = os.path.join(self.tmp, "cancel.pid")
        run_id = self.local_machine.exec_command(
            ["sh", "-c", f"echo $$ > {pidfile}; echo waiting; sleep 60"]
        )
        runner = threading.Thread(target=self.Exec._run_pending)
        runner.start()
        try:
            deadline = time.monotonic() + 20
            while not os.path.exists(pidfile) and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(1.5)  # let the runner write the output once
            with self.registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                run = env["devops.exec"].browse(run_id)
                self.assertEqual(run.state, "running")
                self.assertEqual(run.output, "waiting\n")  # live output, before the end
                run.action_cancel()
        finally:
            runner.join(30)
        self.env.invalidate_all()
        run = self.Exec.browse(run_id)
        self.assertEqual(run.state, "cancelled")
        with open(pidfile, encoding="ascii") as pids:
            pid = int(pids.read())
        self.assertFalse(psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie")

    def test_missing_directory_and_program(self):
        workspace = self.make_workspace(path=os.path.join(self.tmp, "nowhere"))
        ws_run = workspace.exec_command(["pwd"])
        prog_run = self.local_machine.exec_command(["devops-no-such-program"])
        self.run_all()
        ws_run, prog_run = self.Exec.browse([ws_run, prog_run])
        self.assertEqual(ws_run.state, "failed")
        self.assertIn("does not exist", ws_run.error_message)
        self.assertEqual(prog_run.state, "failed")
        self.assertIn("Program not found", prog_run.error_message)

    def test_large_output_goes_to_an_attachment(self):
        size = 3 * 1024 * 1024
        run = self.Exec.browse(
            self.local_machine.exec_command(f"head -c {size} /dev/zero | tr '\\0' x")
        )
        self.run_all()
        self.assertEqual(run.state, "done")
        self.assertEqual(run.output_size, size)
        self.assertTrue(run.output_truncated)
        self.assertLess(len(run.output), 200 * 1024)
        self.assertIn("bytes omitted", run.output)
        attachment = run.output_attachment_id
        self.assertEqual(attachment.file_size, size)
        self.assertEqual(attachment.raw, b"x" * size)
        self.assertEqual((attachment.res_model, attachment.res_id), ("devops.exec", run.id))

    def test_non_utf8_output(self):
        run = self.Exec.browse(self.local_machine.exec_command(["printf", "caf\\351\\n"]))
        nul = self.Exec.browse(self.local_machine.exec_command(["printf", "a\\000b"]))
        self.run_all()
        self.assertEqual(run.output, "caf\ufffd\n")
        self.assertEqual((nul.state, nul.output), ("done", "a\u2400b"))

    def test_finished_runs_are_an_audit_trail(self):
        run = self.Exec.browse(self.local_machine.exec_command(["true"]))
        self.run_all()
        with self.assertRaises(UserError):
            run.write({"output": "forged"})
        with self.assertRaises(UserError):
            run.unlink()
        with self.assertRaises(UserError):
            run.with_user(self.devops_manager).write({"output": "forged"})
        self.env.cr.execute(
            "UPDATE devops_exec SET date_end = now() - interval '100 days' WHERE id = %s",
            [run.id],
        )
        recent = self.Exec.browse(self.local_machine.exec_command(["true"]))
        self.run_all()
        self.Exec._cron_cleanup()
        self.assertFalse(run.exists())
        self.assertTrue(recent.exists())

    def test_who_sees_what(self):
        mine = self.local_machine.with_user(self.local_user).exec_command(["true"])
        shared = (
            self.local_machine.with_user(self.devops_manager)
            .with_context(devops_exec_shared=True)
            .exec_command(["true"])
        )
        private = self.local_machine.with_user(self.devops_manager).exec_command(["true"])
        as_user = self.Exec.with_user(self.local_user).search([]).ids
        self.assertIn(mine, as_user)
        self.assertIn(shared, as_user)
        self.assertNotIn(private, as_user)
        self.assertNotIn(mine, self.Exec.with_user(self.devops_user).search([]).ids)
        as_manager = self.Exec.with_user(self.devops_manager).search([]).ids
        self.assertTrue({mine, shared, private} <= set(as_manager))
        with self.assertRaises(AccessError):
            self.Exec.browse(private).with_user(self.devops_user).action_cancel()
        with self.assertRaises(AccessError):
            self.local_machine.with_user(self.plain_user).exec_command(["true"])
        with self.assertRaises(AccessError):
            self.Exec.with_user(self.plain_user).search([])

    def test_runs_cannot_be_forged_over_rpc(self):
        values = {
            "machine_id": self.local_machine.id,
            "command": "true",
            "argv": '["true"]',
            "user_id": self.devops_user.id,
            "state": "done",
        }
        for user in (self.devops_user, self.devops_manager):
            with self.assertRaises(AccessError):
                self.Exec.with_user(user).create(values)
        run = self.Exec.browse(self.local_machine.with_user(self.local_user).exec_command(["true"]))
        with self.assertRaises(AccessError):
            run.with_user(self.local_user).write({"state": "done"})

    def test_hostile_input_is_data(self):
        hostile = os.path.join(self.tmp, "$(touch PWNED); `touch PWNED` | & a b")
        os.makedirs(hostile)
        workspace = self.make_workspace(name="; rm -rf / #", path=hostile)
        values = ["; touch PWNED", "$(touch PWNED)", "`touch PWNED`", "| touch PWNED", "&&", "\n"]
        run_ids = [workspace.exec_command(["printf", "%s", value]) for value in values]
        run_ids.append(workspace.exec_command(["pwd"]))
        self.run_all()
        runs = self.Exec.browse(run_ids)
        self.assertEqual(runs.mapped("state"), ["done"] * len(run_ids))
        self.assertEqual(runs[:-1].mapped("output"), values)
        self.assertEqual(runs[-1].output, hostile + "\n")
        self.assertEqual(os.listdir(hostile), [])
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "PWNED")))
        for bad in (["a\x00b"], [], [1, 2], "", None):
            with self.subTest(command=bad), self.assertRaises(UserError):
                workspace.exec_command(bad)
        for timeout in (-1, 10**9):
            with self.assertRaises(UserError):
                workspace.exec_command(["true"], timeout=timeout)
        with self.assertRaises(UserError):
            workspace.exec_command(["true"], stage="no-such-stage")

    def test_runner_death_marks_interrupted(self):
        """A running record whose lock nobody holds lost its runner."""
        orphan = self.Exec.browse(self.local_machine.exec_command(["true"]))
        self.env.cr.execute("UPDATE devops_exec SET state = 'running' WHERE id = %s", [orphan.id])
        self.run_all()
        self.assertEqual(orphan.state, "interrupted")
        self.assertIn("job is gone", orphan.error_message)

    def test_wizard(self):
        workspace = self.make_workspace(path=self.tmp)
        wizard = (
            self.env["devops.exec.wizard"]
            .with_user(self.local_user)
            .with_context(
                default_workspace_id=workspace.id, default_machine_id=workspace.machine_id.id
            )
            .create(
                {
                    "command": "echo from the wizard; pwd",
                    "stage_id": self.env.ref(xmlid("stage_code")).id,
                }
            )
        )
        self.assertEqual(wizard.timeout, 600)
        action = wizard.action_run()
        run = self.Exec.browse(action["res_id"])
        self.assertEqual(action["res_model"], "devops.exec")
        self.assertEqual(run.workspace_id, workspace)
        self.assertEqual(run.user_id, self.local_user)
        self.run_all()
        self.assertEqual(run.output, f"from the wizard\n{self.tmp}\n")
        again = run.with_user(self.local_user).action_run_again()
        self.assertEqual(self.Exec.browse(again["res_id"]).command, "echo from the wizard; pwd")

    def test_local_machine_facts(self):
        self.local_machine.action_test_connection()
        self.assertEqual(self.local_machine.cpu_count, os.cpu_count())
        self.assertTrue(self.local_machine.kernel.startswith("Linux"))
        self.assertGreater(self.local_machine.memory_mb, 0)
        self.assertFalse(self.local_machine.facts_error)
