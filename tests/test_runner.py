"""The runner under real concurrency: separate Odoo processes on committed data."""

import os
import shutil
import signal
import subprocess
import tempfile
import time

import psutil

from odoo.tests import TransactionCase, tagged

from .common import committed_env, odoo_shell_argv, xmlid

RUN_PENDING = "env['devops.exec']._run_pending()\n"


@tagged("post_install", "-at_install")
class TestRunnerProcesses(TransactionCase):
    """Not in test mode: these runs are committed, and deleted at the end."""

    def setUp(self):
        super().setUp()
        self.dbname = self.env.cr.dbname
        self.addCleanup(self._delete_runs)
        self.tmp = tempfile.mkdtemp(prefix="devops-runner-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)

    def _delete_runs(self):
        with committed_env(self.dbname) as env:
            runs = env["devops.exec"].search([("command", "like", "devops-runner-test")])
            runs.output_attachment_id.unlink()
            runs.with_context(devops_exec_retention=True).unlink()

    def _queue(self, env, argv):
        machine = env.ref(xmlid("machine_local"))
        return env["devops.exec"]._enqueue(machine, ["sh", "-c", argv, "devops-runner-test"])

    def _runner(self):
        return subprocess.Popen(
            odoo_shell_argv(self.dbname),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def test_two_runners_run_each_job_once(self):
        log = os.path.join(self.tmp, "ran.log")
        with committed_env(self.dbname) as env:
            ids = [self._queue(env, f'sleep 0.1; echo {i} >> "{log}"') for i in range(200)]
        runners = [self._runner() for _ in range(2)]
        for runner in runners:
            runner.stdin.write(RUN_PENDING)
            runner.stdin.close()
        for runner in runners:
            runner.wait(300)
            self.assertEqual(runner.returncode, 0, runner.stderr.read())
        with open(log, encoding="ascii") as ran:
            lines = ran.read().split()
        self.assertEqual(sorted(lines, key=int), [str(i) for i in range(200)])
        with committed_env(self.dbname) as env:
            runs = env["devops.exec"].browse(ids)
            self.assertEqual(set(runs.mapped("state")), {"done"})
            # Both processes took jobs.
            self.assertEqual(set(runs.mapped("runner_pid")), {r.pid for r in runners})

    def test_killed_runner_job_is_interrupted(self):
        pidfile = os.path.join(self.tmp, "job.pid")
        daemon_pidfile = os.path.join(self.tmp, "daemon.pid")
        # A daemon that left the session (setsid) is stopped with the run too.
        daemon = f"setsid sh -c 'echo $$ > \"{daemon_pidfile}\"; exec sleep 120' &"
        with committed_env(self.dbname) as env:
            run_id = self._queue(env, f'{daemon} echo $$ > "{pidfile}"; exec sleep 120')
        runner = self._runner()
        runner.stdin.write(RUN_PENDING)
        runner.stdin.close()  # the shell runs its input once it has read all of it
        deadline = time.monotonic() + 60
        while not os.path.exists(pidfile) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertTrue(os.path.exists(pidfile), "the runner process never started the job")
        time.sleep(0.2)
        with open(pidfile, encoding="ascii") as pid:
            job_pid = int(pid.read())
        with committed_env(self.dbname) as env:
            self.assertEqual(env["devops.exec"].browse(run_id).state, "running")
            # Its runner is alive: another pass leaves it alone.
            env["devops.exec"]._recover_interrupted()
            self.assertEqual(env["devops.exec"].browse(run_id).state, "running")
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait(30)
        self.assertTrue(psutil.pid_exists(job_pid))  # the command outlived its runner
        with committed_env(self.dbname) as env:
            env["devops.exec"]._run_pending()
        with committed_env(self.dbname) as env:
            run = env["devops.exec"].browse(run_id)
            self.assertEqual(run.state, "interrupted")
            self.assertIn("runner stopped", run.error_message)
        deadline = time.monotonic() + 10
        while psutil.pid_exists(job_pid) and time.monotonic() < deadline:
            if psutil.Process(job_pid).status() == psutil.STATUS_ZOMBIE:
                break
            time.sleep(0.05)
        self.assertFalse(
            psutil.pid_exists(job_pid) and psutil.Process(job_pid).status() != "zombie",
            "the orphaned command was not killed",
        )
        with open(daemon_pidfile, encoding="ascii") as pid:
            daemon_pid = int(pid.read())
        deadline = time.monotonic() + 10
        while psutil.pid_exists(daemon_pid) and time.monotonic() < deadline:
            if psutil.Process(daemon_pid).status() == psutil.STATUS_ZOMBIE:
                break
            time.sleep(0.05)
        self.assertFalse(
            psutil.pid_exists(daemon_pid)
            and psutil.Process(daemon_pid).status() != psutil.STATUS_ZOMBIE,
            "the daemon it started with setsid was not killed",
        )
