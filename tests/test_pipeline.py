"""Pipelines on real parts: a git checkout, the tests' HTTP service as an instance."""

import os
from unittest.mock import patch

from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import RunnerCase
from .test_code import UpdateMixin


@tagged("post_install", "-at_install")
class TestPipeline(UpdateMixin, RunnerCase):
    def copy_update(self, *commands, name="Update and smoke test"):
        """A manager's copy of "Update" with command steps of their own, added as the web
        client adds lines (a "virtual_N" reference in the create command)."""
        update = self.env.ref("erplibre_devops.pipeline_update")
        pipeline = update.with_user(self.devops_manager).copy({"name": name})
        for number, (sequence, values) in enumerate(commands):
            field = "rollback_step_ids" if values.get("rollback") else "main_step_ids"
            line = {"sequence": sequence, "kind": "command", **values}
            pipeline.with_user(self.devops_manager).write({field: [(0, f"virtual_{number}", line)]})
        return pipeline

    def launch(self, pipeline, **params):
        return self.env["devops.pipeline.run"].browse(pipeline.launch(self.instance, params))

    def test_copy_update_add_a_smoke_test(self):
        self.write_file(os.path.join(self.clone, "smoke.sh"), 'echo "smoke on port $1 for $2"\n')
        pipeline = self.copy_update(
            (60, {"name": "Smoke test", "command": "sh smoke.sh {port} {who}"})
        )
        self.assertFalse(pipeline.code)
        self.assertEqual(len(pipeline.step_ids), 8)
        hostile = "x; touch PWNED $(id)"
        run = self.launch(pipeline, who=hostile)
        self.run_all()
        self.assertEqual(run.state, "done", run.message)
        smoke = run.step_ids.filtered(lambda s: s.name == "Smoke test")
        self.assertEqual(smoke.state, "done")
        self.assertEqual(smoke.command, f"sh smoke.sh {self.instance.port} 'x; touch PWNED $(id)'")
        self.assertEqual(
            smoke.exec_id.output, f"smoke on port {self.instance.port} for {hostile}\n"
        )
        self.assertFalse(os.path.exists(os.path.join(self.clone, "PWNED")))
        self.assertEqual(run.stage_id.code, "deploy")

    def test_run_a_pipeline_from_the_instance(self):
        pipeline = self.copy_update((60, {"name": "Greet", "command": "echo {greeting} {ref}"}))
        action = self.instance.with_user(self.devops_manager).action_open_pipeline_wizard()
        wizard = self.env["devops.pipeline.launch.wizard"].browse(action["res_id"])
        wizard.write(
            {"pipeline_id": pipeline.id, "ref": "main", "params_text": "greeting=hi $(id)\n"}
        )
        run = self.env["devops.pipeline.run"].browse(wizard.action_run()["res_id"])
        self.run_all()
        self.assertEqual(run.state, "done", run.message)
        self.assertEqual(run.name, f"{pipeline.name} {self.instance.name} to main")
        greet = run.step_ids.filtered(lambda s: s.name == "Greet")
        self.assertEqual(greet.exec_id.output, "hi $(id) main\n")
        wizard = self.env["devops.pipeline.launch.wizard"].create(
            {"pipeline_id": pipeline.id, "instance_id": self.instance.id, "params_text": "oops"}
        )
        with self.assertRaises(UserError):
            wizard.action_run()

    def test_a_failing_step_rolls_back_and_restarts(self):
        old = self.head()
        new = self.push_from_other("notes.txt", "new\n", "new code")
        pipeline = self.copy_update(
            (
                60,
                {
                    "name": "Smoke test",
                    "command": "echo smoke failed >&2; exit 4",
                    "on_failure": "rollback",
                },
            )
        )
        run = self.launch(pipeline)
        self.run_all()
        self.assertEqual(run.state, "rolled_back", run.message)
        self.assertEqual(run.failed_step_id.name, "Smoke test")
        self.assertIn("smoke failed", run.message)
        self.assertIn("Rolled back to", run.message)
        self.assertNotEqual(new, old)
        self.assertEqual(self.head(), old)
        self.assertEqual(run.step_ids.filtered("rollback").mapped("state"), ["done", "done"])
        self.instance._operate()
        self.assertEqual(self.instance.state, "running")

    def test_only_the_latest_run_rolls_back(self):
        pipeline = self.copy_update()
        first = self.launch(pipeline)
        self.run_all()
        second = self.launch(pipeline)
        self.run_all()
        self.assertEqual((first.state, second.state), ("done", "done"))
        self.assertEqual(set(first.step_ids.filtered("rollback").mapped("state")), {"skipped"})
        self.assertFalse(first.has_rollback)
        self.assertTrue(second.has_rollback)
        with self.assertRaises(UserError) as caught:
            first.action_rollback()
        self.assertIn("latest run", str(caught.exception))

    def test_owners_are_told_again_after_a_concurrent_update(self):
        """The operate cron wrote the same instance meanwhile: the hook runs again, afresh."""
        from psycopg2.errors import SerializationFailure  # noqa: PLC0415

        pipeline = self.copy_update((5, {"name": "Hello", "command": "echo hello"}))
        run = self.launch(pipeline)
        Exec = type(self.env["devops.exec"])
        original = Exec._notify_owner
        calls = []

        def flaky(record):
            calls.append(record.id)
            if len(calls) == 1:
                raise SerializationFailure("could not serialize access due to concurrent update")
            return original(record)

        with patch.object(Exec, "_notify_owner", flaky):
            self.run_all()
        self.assertGreater(len(calls), 1)
        self.assertEqual(run.state, "done", run.message)

    def test_continue_and_conditions(self):
        pipeline = self.copy_update(
            (60, {"name": "Optional", "command": "exit 1", "on_failure": "continue"}),
            (70, {"name": "After it", "command": "echo still here"}),
            (
                80,
                {
                    "name": "Only if code changed",
                    "command": "echo changed",
                    "condition": "code_changed",
                },
            ),
        )
        run = self.launch(pipeline)  # nothing new to pull
        self.run_all()
        self.assertEqual(run.state, "done", run.message)
        by_name = {step.name: step for step in run.step_ids}
        self.assertEqual(by_name["Optional"].state, "failed")
        self.assertEqual(run.failed_step_id, by_name["Optional"])
        self.assertEqual(by_name["After it"].exec_id.output, "still here\n")
        self.assertEqual(by_name["Only if code changed"].state, "skipped")
        self.assertEqual(by_name["Python requirements"].state, "skipped")

    def test_one_active_run_per_instance(self):
        pipeline = self.copy_update((5, {"name": "Slow", "command": "sleep 30"}))
        first = self.launch(pipeline)
        with self.assertRaises(UserError) as caught:
            self.launch(pipeline)
        self.assertIn(first.name, str(caught.exception))
        with self.assertRaises(UserError):
            self.instance.update_code()
        first.action_cancel()  # cancelled while queued: the rest is skipped
        self.run_all()
        self.assertEqual(first.state, "cancelled")
        self.assertEqual(
            set(first.step_ids.filtered(lambda s: not s.rollback).mapped("state")) - {"cancelled"},
            {"skipped"},
        )
        second = self.launch(pipeline)  # the instance is free again
        second.action_cancel()
        self.run_all()

    def test_cancel_a_running_step_then_roll_back(self):
        pipeline = self.copy_update(
            (60, {"name": "Long", "command": "echo begun; sleep 60", "on_failure": "rollback"})
        )
        run = self.launch(pipeline)
        calls = []

        def cancel_once(items):
            # Cancel from "outside" while the long step runs (as the Cancel button does).
            long_step = run.step_ids.filtered(lambda s: s.name == "Long")
            if long_step.exec_id and long_step.exec_id.id in [i.key for i in items] and not calls:
                calls.append(1)
                with self.registry.cursor() as cr:
                    self.env(cr=cr)["devops.pipeline.run"].browse(run.id).action_cancel()
            return original(self.env["devops.exec.runner"], self.registry, items)

        original = type(self.env["devops.exec.runner"])._progress
        with patch.object(
            type(self.env["devops.exec.runner"]),
            "_progress",
            lambda model, registry, items: cancel_once(items),
        ):
            self.run_all()
        self.assertEqual(calls, [1])
        long_step = run.step_ids.filtered(lambda s: s.name == "Long")
        self.assertEqual(long_step.state, "cancelled")
        self.assertEqual(long_step.exec_id.state, "cancelled")
        self.assertEqual(run.state, "rolled_back", run.message)
        self.assertEqual(run.step_ids.filtered("rollback").mapped("state"), ["done", "done"])

    def test_a_raising_hook_never_loses_the_result(self):
        pipeline = self.copy_update((5, {"name": "Hello", "command": "echo hello"}))
        run = self.launch(pipeline)
        Run = type(self.env["devops.pipeline.run"])
        with (
            patch.object(Run, "_step_exec_done", side_effect=RuntimeError("hook exploded")),
            self.assertLogs("odoo.addons.erplibre_devops.models.devops_exec", "ERROR"),
        ):
            self.run_all()
        hello = run.step_ids.filtered(lambda s: s.name == "Hello")
        self.assertEqual(hello.exec_id.state, "done")  # the run's own result is intact
        self.assertEqual(hello.exec_id.output, "hello\n")
        self.assertEqual(hello.state, "failed")
        self.assertIn("hook exploded", hello.message)
        self.assertEqual(run.state, "failed")

    def test_waiting_is_scheduled_never_slept(self):
        """The health wait leaves the runner free: other runs go on, the cron checks later."""
        self.instance.health_url = f"http://localhost:{self.instance.port}/never-healthy"
        run = self.env["devops.pipeline.run"].browse(
            self.instance.update_code(update_command="", health_wait=3)
        )
        self.env.flush_all()
        self.Exec._run_pending()
        self.env.invalidate_all()
        self.assertEqual(run.state, "waiting")
        self.assertEqual(run.current_step_id.action, "wait_healthy")
        cron = self.env.ref("erplibre_devops.ir_cron_pipeline_advance")
        self.assertTrue(self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id)]))
        other = self.Exec.browse(self.local_machine.exec_command(["echo", "not blocked"]))
        self.env.flush_all()
        self.Exec._run_pending()
        self.env.invalidate_all()
        self.assertEqual((other.state, other.output), ("done", "not blocked\n"))
        self.assertEqual(run.state, "waiting")
        self.run_all()  # the cron, until the deadline: not healthy, rolled back
        self.assertEqual(run.state, "rolled_back", run.message)
        self.assertIn("Not healthy", run.message)
        with self.assertRaises(UserError):
            self.instance.update_code(health_wait=100000)

    def test_params_and_targets_are_checked(self):
        pipeline = self.env.ref("erplibre_devops.pipeline_update")
        bad = [
            ({"ref": "--upload-pack=x"}, "branch"),
            ({"modules": "sale;id"}, "module"),
            ({"health_wait": "x"}, "health wait"),
            ({"Bad Name": 1}, "parameter name"),
            ({"x": {"a": 1}}, "must be text"),
            ({"x": "a\x00b"}, "NUL"),
        ]
        for params, word in bad:
            with self.subTest(params=params), self.assertRaises(UserError) as caught:
                pipeline.launch(self.instance, params)
            self.assertIn(word, str(caught.exception))
        for target in (self.instance.workspace_id, "x", 404404, None):
            with self.subTest(target=target), self.assertRaises(UserError):
                pipeline.launch(target)


@tagged("post_install", "-at_install")
class TestInstanceRunsInOrder(UpdateMixin, RunnerCase):
    def test_a_stop_queued_after_a_start_waits_for_it(self):
        """Runs of one instance never run side by side, even with parallel runs."""
        self.instance.action_stop()
        self.run_all()
        self.assertEqual(self.instance.state, "stopped")
        self.instance.action_start()
        self.instance.action_stop()
        self.env.flush_all()
        self.Exec.with_context(devops_runner_parallel=4)._run_pending()
        self.env.invalidate_all()
        start, stop = self.instance.exec_ids.sorted("id")[-2:]
        self.assertEqual((start.instance_action, stop.instance_action), ("start", "stop"))
        self.assertEqual((start.state, stop.state), ("done", "done"))
        self.assertLessEqual(start.date_end, stop.date_start)
        self.assertIn("stopped, pid", stop.output)  # it found the pid file the start wrote
        self.instance._operate()
        self.assertEqual(self.instance.state, "stopped")
