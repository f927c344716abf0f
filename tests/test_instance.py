import contextlib
import datetime
import json
import os
import signal
import socket
import time
from unittest.mock import patch

import psutil

from odoo import fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import new_test_user, tagged

from odoo.addons.erplibre_devops.engine import service
from odoo.addons.erplibre_devops.engine.testing import (
    build_test_image,
    free_port,
    write_health_server,
)

from .common import RunnerCase, SSHCase


class InstanceMixin:
    """Real service processes (the tests' small HTTP server), started by the instances."""

    def make_instance(self, workspace, **values):
        instance = self.env["devops.instance"].create(
            {
                "name": f"Instance {free_port()}",
                "workspace_id": workspace.id,
                "port": free_port(),
                "start_command": "python3 -u health_server.py {port}",
                "restart_backoff": 0,
                **values,
            }
        )
        self.addCleanup(self._kill_pid_file, instance._paths()[0])
        return instance

    @staticmethod
    def _kill_pid_file(pid_file):
        with contextlib.suppress(OSError, ValueError):
            with open(pid_file, encoding="ascii") as pids:
                os.killpg(int(pids.read()), signal.SIGKILL)

    def operate_until(self, instance, states, timeout=20):
        """Operate passes (and the runs they queue) until the instance is in ``states``."""
        states = (states,) if isinstance(states, str) else states
        deadline = time.monotonic() + timeout
        while True:
            self.run_all()
            instance._operate()
            self.env.flush_all()
            if instance.state in states or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertIn(instance.state, states, instance.last_error)

    def kill_service(self, instance):
        self.assertTrue(instance.pid)
        os.killpg(instance.pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while psutil.pid_exists(instance.pid) and time.monotonic() < deadline:
            if psutil.Process(instance.pid).status() == psutil.STATUS_ZOMBIE:
                break
            time.sleep(0.05)


@tagged("post_install", "-at_install")
class TestInstance(InstanceMixin, RunnerCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        write_health_server(cls.tmp)
        cls.workspace = cls.make_workspace(path=cls.tmp)

    def test_operate_comes_back_within_seconds_while_an_instance_starts(self):
        """A finished start has the operate cron look at once; while an instance is still
        starting, the cron says it has more to do (Odoo runs it again at once) instead of
        waiting a minute."""
        cron = self.env.ref("erplibre_devops.ir_cron_operate")
        Trigger = self.env["ir.cron.trigger"].sudo()
        instance = self.make_instance(self.workspace, start_command="sleep 60")
        before = Trigger.search_count([("cron_id", "=", cron.id)])
        instance.action_start()
        self.run_all()
        self.assertEqual(instance.action_exec_id.state, "done")
        self.assertGreater(Trigger.search_count([("cron_id", "=", cron.id)]), before)
        progress = self.env["ir.cron.progress"].sudo().create({"cron_id": cron.id})
        operate = self.env["devops.instance"].with_context(ir_cron_progress_id=progress.id)
        operate._cron_operate()
        self.assertEqual(instance.state, "starting")  # alive, not answering yet: in its grace
        self.assertGreaterEqual(progress.done, 1)
        self.assertEqual(progress.remaining, 1)
        instance.action_stop()
        self.run_all()
        operate._cron_operate()
        self.assertEqual(progress.remaining, 0)

    def test_restart_policy_of_new_instances_follows_the_settings(self):
        Settings = self.env["res.config.settings"]
        for ticked in (False, True, False):
            Settings.create({"devops_auto_restart": ticked}).execute()
            self.assertEqual(Settings.get_values()["devops_auto_restart"], ticked)
            self.assertEqual(self.make_instance(self.workspace).auto_restart, ticked)

    def test_incident_acknowledge_assign_note(self):
        """Users take an incident, assign it to DevOps users only, and annotate it; the first
        acknowledgement stays, and the rest of the record is history."""
        instance = self.make_instance(self.workspace)
        incident = self.env["devops.incident"].create(
            {"instance_id": instance.id, "cause": "Nothing answers"}
        )
        mine = incident.with_user(self.devops_user)
        mine.action_acknowledge()
        self.assertEqual((incident.acknowledged_by, incident.user_id), (self.devops_user,) * 2)
        self.assertTrue(incident.date_acknowledged)
        other = new_test_user(
            self.env, login="devops_second", groups="erplibre_devops.group_devops_user"
        )
        with self.assertRaises(UserError):
            incident.with_user(other).action_acknowledge()
        self.assertEqual(incident.acknowledged_by, self.devops_user)
        mine.write({"user_id": other.id, "note": "Disk full, cleaned /var/log"})
        self.assertEqual(incident.user_id, other)
        outsider = new_test_user(self.env, login="not_devops", groups="base.group_user")
        portal = new_test_user(self.env, login="portal_incident", groups="base.group_portal")
        for user in (outsider, portal):
            with self.assertRaises(ValidationError):
                mine.write({"user_id": user.id})
        with self.assertRaises(ValidationError):
            mine.write({"user_id": 999999})
        with self.assertRaises(AccessError):
            mine.write({"cause": "rewritten"})
        incident._close("Back up and healthy.")
        self.assertEqual(incident.note, "Disk full, cleaned /var/log\nBack up and healthy.")
        fresh = self.env["devops.incident"].create({"instance_id": instance.id, "cause": "x"})
        fresh._close("Back")
        with self.assertRaises(UserError):
            fresh.with_user(self.devops_user).action_acknowledge()

    def test_start_kill_restart_incident(self):
        instance = self.make_instance(self.workspace)
        self.assertEqual(instance.health_url, f"http://localhost:{instance.port}/web/health")
        action = instance.action_start()
        # The user stays on the instance (a notice, then the form shows the start's progress).
        self.assertEqual(action["tag"], "display_notification")
        self.assertFalse(action["params"]["sticky"])
        start = instance.action_exec_id
        self.assertEqual((start.instance_action, start.stage_id.code), ("start", "operate"))
        self.assertEqual(start.name, f"Start {instance.name}")
        self.assertEqual(instance.action_open_action_exec()["res_id"], start.id)
        self.assertEqual(instance.state, "starting")
        self.assertEqual(instance.uptime_24h, -1)  # no check yet: no data, not 0 %
        self.operate_until(instance, "running")
        self.assertTrue(start.output.startswith("started, pid"))
        self.assertEqual(instance.uptime_24h, 100.0)
        self.assertGreater(instance.last_latency_ms, 0)
        self.assertEqual(instance.last_http_status, 200)
        self.assertFalse(instance.incident_ids)
        # Killed from outside: the operate pass sees it, opens an incident, restarts it.
        self.kill_service(instance)
        instance._operate()
        incident = instance.incident_ids
        self.assertEqual(len(incident), 1)
        self.assertFalse(incident.date_end)
        self.assertIn("not running", incident.cause)
        self.assertIn("listening on port", incident.log_excerpt)  # the log of that moment
        self.assertEqual(instance.state, "restarting")
        self.assertEqual(incident.restart_count, 1)
        self.assertEqual(instance.exec_ids.mapped("instance_action").count("auto_restart"), 1)
        self.assertEqual(instance.status_strip.count('"down"'), 1)  # shown at once
        self.operate_until(instance, "running")
        self.assertFalse(instance.last_error)  # never "not running" beside the new process
        self.assertTrue(incident.date_end)
        self.assertEqual(incident.state, "closed")
        self.assertGreaterEqual(incident.duration, 0)
        self.assertIn(instance.action_exec_id, incident.exec_ids)  # its timeline
        states = incident.interval_ids.mapped("state")  # to the second: maybe running first
        self.assertEqual(states[-3:], ["down", "restarting", "running"])
        self.assertLess(instance.uptime_24h, 100.0)
        # The restart kept the log of the first run.
        log = instance.log_tail(500)
        self.assertEqual(log.count("=== devops: starting"), 2, log)
        self.assertEqual(instance.log_tail(500, search="LISTENING").count("listening"), 2)
        # Stopped on purpose: no more checks, the process is gone.
        pid = instance.pid
        instance.action_stop()
        self.run_all()
        self.assertEqual(instance.state, "stopped")
        self.assertFalse(psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie")
        # Nothing stale is shown of a stopped instance.
        self.assertEqual((instance.pid, instance.last_http_status), (0, 0))
        self.assertEqual((instance.last_latency_ms, instance.last_error), (0.0, False))
        instance._operate()
        self.assertEqual(instance.state, "stopped")

    def test_restart_limit(self):
        instance = self.make_instance(self.workspace, restart_max_per_hour=2)
        instance.action_start()
        self.operate_until(instance, "running")
        for _ in range(2):
            self.kill_service(instance)
            self.operate_until(instance, "running")
        self.assertEqual(instance.incident_ids.mapped("restart_count"), [1, 1])
        self.kill_service(instance)
        instance._operate()
        self.assertEqual(instance.state, "down", (instance.last_error, instance.last_http_status))
        self.assertTrue(instance.restart_given_up)
        self.assertIn("Gave up", instance.last_error)
        self.assertIn("Gave up", instance.incident_ids.filtered(lambda i: not i.date_end).note)
        instance._operate()  # and it stays given up
        self.assertEqual(instance.exec_ids.mapped("instance_action").count("auto_restart"), 2)

    def test_degraded_then_healthy(self):
        instance = self.make_instance(self.workspace)
        instance.action_start()
        self.operate_until(instance, "running")
        flag = os.path.join(self.tmp, "unhealthy")
        open(flag, "w").close()
        try:
            self.operate_until(instance, "degraded")
            self.assertEqual(instance.last_http_status, 503)
            self.assertFalse(instance.incident_ids)
        finally:
            os.unlink(flag)
        self.operate_until(instance, "running")
        instance.action_stop()
        self.run_all()

    def test_port_in_use(self):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            instance = self.make_instance(
                self.workspace, port=taken.getsockname()[1], auto_restart=False
            )
            instance.action_start()
            run = instance.action_exec_id
            self.run_all()
        self.assertEqual(run.state, "failed")
        self.assertIn("stopped at once", run.output)
        self.assertIn("Address already in use", run.output)
        self.assertEqual(instance.state, "down")
        self.assertIn("Address already in use", instance.last_error)

    def test_bad_input(self):
        instance = self.make_instance(self.workspace, start_command=False)
        with self.assertRaises(UserError) as caught:
            instance.action_start()
        self.assertIn("start command", str(caught.exception))
        docker = self.make_instance(self.workspace, kind="docker", image=False)
        with self.assertRaises(UserError):
            docker.action_start()
        with self.assertRaises(UserError):
            instance.action_backup()  # no database

    def test_one_bad_instance_never_stops_operate(self):
        """A URL that slipped past validation (written by SQL) fails only its own checks."""
        good = self.make_instance(self.workspace)
        bad = self.make_instance(self.workspace)
        for instance in (good, bad):
            instance.action_start()
        self.operate_until(good, "running")
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE devops_instance SET health_url = 'http://127.0.0.1:99999/' WHERE id = %s",
            [bad.id],
        )
        bad.invalidate_recordset()
        self.kill_service(good)
        good.auto_restart = False
        self.env["devops.instance"]._cron_operate()
        self.assertEqual(good.state, "down")  # still checked
        self.assertIn("not running", good.last_error)
        self.assertNotEqual(bad.state, "running")
        self.assertIn("99999", bad.last_error)
        # The same for an exception raised while handling one instance.
        original = type(bad)._handle_incident

        def flaky(instance, seen):
            if instance == bad:
                raise RuntimeError("boom")
            return original(instance, seen)

        good.last_error = False
        with (
            patch.object(type(bad), "_handle_incident", flaky),
            self.assertLogs("odoo.addons.erplibre_devops.models.devops_instance", "ERROR"),
        ):
            self.env["devops.instance"]._cron_operate()
        self.assertIn("boom", bad.last_error)
        self.assertIn("not running", good.last_error)

        # A condition for the user to fix (a message, such as no start command to restart
        # with): said on the instance, logged once as a warning, never as an error.
        def unfixed(instance, seen):
            if instance == bad:
                raise UserError("Set the start command of Bad first.")  # pylint: disable=translation-required
            return original(instance, seen)

        with (
            patch.object(type(bad), "_handle_incident", unfixed),
            self.assertLogs("odoo.addons.erplibre_devops.models.devops_instance") as logs,
        ):
            self.env["devops.instance"]._cron_operate()
            self.env["devops.instance"]._cron_operate()
        self.assertEqual([r.levelname for r in logs.records if "Bad" in r.getMessage()],
                         ["WARNING"])  # fmt: skip
        self.assertIn("Set the start command of Bad first.", bad.last_error)
        before = {instance: len(instance.check_ids) for instance in (good, bad)}
        self.env["devops.instance"]._cron_monitor()  # monitor too
        self.env.invalidate_all()
        self.assertEqual(len(good.check_ids), before[good] + 1)
        self.assertEqual(len(bad.check_ids), before[bad] + 1)
        for instance in (good, bad):
            instance.action_stop()
        self.run_all()

    def test_monitor_history_and_retention(self):
        instance = self.make_instance(self.workspace)
        stopped = self.make_instance(self.workspace)
        instance.action_start()
        self.operate_until(instance, "running")
        Check = self.env["devops.instance.check"]
        for _ in range(3):
            self.env["devops.instance"]._cron_monitor()
        samples = Check.search([("instance_id", "=", instance.id)])
        # three samples, and the change to running, recorded by operate when it saw it
        self.assertEqual(samples.mapped("state"), ["up"] * 4)
        self.assertTrue(all(s.latency_ms > 0 and s.memory_mb > 0 for s in samples))
        self.assertEqual(
            Check.search([("instance_id", "=", stopped.id)]).mapped("state"), ["stopped"] * 3
        )
        self.assertEqual(stopped.uptime_24h, -1)  # never started: no data
        self.assertEqual(instance.uptime_24h, 100.0)
        # Retention: samples older than the setting go.
        old = Check.create(
            {
                "instance_id": instance.id,
                "date": fields.Datetime.now() - datetime.timedelta(days=40),
                "state": "down",
            }
        )
        self.env["devops.instance"]._cron_monitor()
        self.assertFalse(old.exists())
        self.assertIn('"', instance.latency_series)
        self.assertEqual(len(json.loads(instance.status_strip)), 5)
        instance.action_stop()
        self.run_all()

    def test_a_one_minute_outage_lowers_uptime(self):
        """A real instance, up for an hour (its history moved back), then down 60 s: its
        24 h uptime is 59/60, whatever the samples; stopped time is left out."""
        instance = self.make_instance(self.workspace, auto_restart=False)
        instance.action_start()
        self.operate_until(instance, "running")
        self.kill_service(instance)
        instance._operate()
        self.assertEqual(instance.state, "down")
        self.env.flush_all()
        Interval = self.env["devops.instance.interval"]
        _running, down = Interval.search(
            [("instance_id", "=", instance.id), ("state", "in", ("running", "down"))],
            order="date_start",
        )
        went_down = down.date_start
        hour, minute = datetime.timedelta(hours=1), datetime.timedelta(seconds=60)
        history = {  # stopped an hour, running an hour, down for the last minute
            "stopped": (went_down - 2 * hour, went_down - hour),
            "running": (went_down - hour, went_down - minute),
            "down": (went_down - minute, None),
        }
        for state, (start, end) in history.items():
            self.env.cr.execute(
                "UPDATE devops_instance_interval SET date_start = %s, date_end = %s"
                " WHERE instance_id = %s AND state = %s",
                [start, end, instance.id, state],
            )
        self.env.cr.execute(
            "DELETE FROM devops_instance_interval WHERE instance_id = %s AND state = 'starting'",
            [instance.id],
        )
        instance.action_start()
        self.operate_until(instance, "running")
        self.env.invalidate_all()
        self.assertEqual(
            Interval.search([("instance_id", "=", instance.id)], order="date_start").mapped(
                "state"
            ),
            ["stopped", "running", "down", "starting", "running"],
        )
        # 60 s (and the second or so of this test) down in 3600 s observed: 98.33 %
        self.assertAlmostEqual(instance.uptime_24h, 100 * (1 - 60 / 3600), delta=0.15)
        self.assertAlmostEqual(instance.uptime_7d, instance.uptime_24h, places=6)
        days = json.loads(instance.uptime_days)
        self.assertEqual(len(days), 7)
        self.assertIsNone(days[0][1])  # nothing observed a week ago: no data
        # A maintenance window over the outage: that minute is left out, 100 % again.
        self.env["devops.maintenance.window"].create(
            {
                "instance_id": instance.id,
                "date_start": went_down - 2 * minute,
                "date_end": went_down + minute,
                "reason": "Upgrade",
            }
        )
        self.env.invalidate_all()
        self.assertAlmostEqual(instance.uptime_24h, 100, delta=0.05)
        instance.action_stop()
        self.run_all()

    def test_log_rotation_keeps_the_log_before_a_restart(self):
        """N files of M MB from the settings: the monitor rotates the big log of a running
        instance, and after a restart the first run's lines are still there."""
        self.env["ir.config_parameter"].sudo().set_param("erplibre_devops.log_keep", 3)
        self.env["ir.config_parameter"].sudo().set_param("erplibre_devops.log_max_mb", 1)
        instance = self.make_instance(self.workspace)
        instance.action_start()
        self.operate_until(instance, "running")
        log_file = instance._paths()[1]
        with open(log_file, "a") as log:
            log.write("first run\n" + ("y" * 1023 + "\n") * 1024)
        self.env["devops.instance"]._cron_monitor()
        self.assertTrue(os.path.exists(log_file + ".1"))
        self.assertLess(os.path.getsize(log_file), 1024 * 1024)
        instance.action_restart()
        self.operate_until(instance, "running")
        self.assertIn("first run", open(log_file + ".1").read())
        self.assertIn("=== devops: starting", open(log_file).read())
        self.assertIn("listening on port", instance.log_tail(50))
        instance.action_stop()
        self.run_all()

    def test_backup_database(self):
        instance = self.make_instance(self.workspace, database=self.env.cr.dbname)
        instance.action_backup()
        run = instance.backup_ids.exec_id
        self.run_all()
        self.assertEqual(run.state, "done", run.error_message or run.output)
        backup = instance.backup_ids
        self.assertEqual(backup.exec_id, run)
        self.assertTrue(os.path.exists(backup.path))
        self.assertAlmostEqual(backup.size_mb, os.path.getsize(backup.path) / 2**20, places=2)
        self.assertGreater(backup.size_mb, 0.1)


@tagged("post_install", "-at_install")
class TestInstanceSSH(InstanceMixin, SSHCase):
    def test_ssh_instance(self):
        self.trust_ssh_machine()
        write_health_server(self.tmp)
        workspace = self.make_workspace(name="Remote", path=self.tmp, machine=self.ssh_machine)
        instance = self.make_instance(workspace)
        self.assertEqual(instance.url, f"http://127.0.0.1:{instance.port}")
        instance.action_start()
        self.operate_until(instance, "running")
        self.assertTrue(instance.pid)
        self.env["devops.instance"]._cron_monitor()
        sample = instance.check_ids[:1]
        self.assertEqual(sample.state, "up")
        self.assertGreater(sample.memory_mb, 0)  # ps over SSH
        instance.action_stop()
        self.run_all()
        self.assertFalse(os.path.exists(instance._paths()[0]))

    def test_unreachable_machine(self):
        closed = self.env["devops.machine"].create(
            {"name": "Closed", "kind": "ssh", "host": "127.0.0.1", "port": 1, "ssh_user": "x"}
        )
        workspace = self.make_workspace(name="Nowhere", path="/srv", machine=closed)
        instance = self.make_instance(workspace, auto_restart=False)
        instance.sudo().state = "running"
        instance._operate()
        self.assertEqual(instance.state, "down")
        self.assertIn("refused the connection", instance.last_error)

    def test_ssh_docker_instance(self):
        """A container on an SSH machine's engine: run and checked with docker over SSH."""
        self.trust_ssh_machine()
        image = build_test_image(self.tmp)
        workspace = self.make_workspace(
            name="Remote docker", path=self.tmp, machine=self.ssh_machine
        )
        instance = self.make_instance(
            workspace, kind="docker", image=image, container_port=8080, auto_restart=False
        )
        name = service.container_name(instance.id)
        self.addCleanup(lambda: os.system(f"docker rm -f {name} >/dev/null 2>&1"))  # noqa: S605
        instance.action_start()
        self.operate_until(instance, "running")
        # Its container's figures come over SSH too (docker stats), not only "running".
        self.env["devops.instance"]._cron_monitor()
        sample = instance.check_ids[-1:]
        self.assertEqual(sample.state, "up")
        self.assertGreater(sample.memory_mb, 0)
        instance.action_stop()
        self.run_all()
        instance.sudo().state = "running"
        instance._operate()
        self.assertEqual(instance.state, "down")
        self.assertIn("container is not running", instance.last_error)
