"""The runner under real concurrency and real failures: separate Odoo processes on committed
data, a runner killed mid-run, and Odoo under --workers with its default time limits."""

import os
import shutil
import signal
import subprocess
import tempfile
import time

import psutil

from odoo.tests import TransactionCase, tagged
from odoo.tools import config

from .common import committed_env, odoo_cli_argv, odoo_shell_argv, xmlid

RUN_PENDING = "env['devops.exec']._run_pending()\n"


def gone(pid, timeout=10):
    deadline = time.monotonic() + timeout
    while psutil.pid_exists(pid) and time.monotonic() < deadline:
        if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            return True
        time.sleep(0.05)
    return not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


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

    def _queue(self, env, script, timeout=None):
        machine = env.ref(xmlid("machine_local"))
        return env["devops.exec"]._enqueue(
            machine, ["sh", "-c", script, "devops-runner-test"], timeout=timeout
        )

    def _runner(self, **popen):
        runner = subprocess.Popen(
            odoo_shell_argv(self.dbname),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            **popen,
        )
        runner.stdin.write(RUN_PENDING)
        runner.stdin.close()  # the shell runs its input once it has read all of it
        return runner

    def _wait_file(self, path, timeout=60):
        deadline = time.monotonic() + timeout
        while not os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertTrue(os.path.exists(path), f"{path} never appeared")
        time.sleep(0.2)
        with open(path, encoding="ascii") as handle:
            return int(handle.read())

    def test_two_runners_run_each_job_once(self):
        log = os.path.join(self.tmp, "ran.log")
        with committed_env(self.dbname) as env:
            ids = [self._queue(env, f'sleep 0.1; echo {i} >> "{log}"') for i in range(200)]
        runners = [self._runner() for _ in range(2)]
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

    def test_killed_runner_its_command_goes_on_and_is_attached_again(self):
        pidfile = os.path.join(self.tmp, "job.pid")
        with committed_env(self.dbname) as env:
            run_id = self._queue(env, f'echo $$ > "{pidfile}"; sleep 3; echo finished; exit 7')
        first = self._runner()
        job_pid = self._wait_file(pidfile)
        with committed_env(self.dbname) as env:
            self.assertEqual(env["devops.exec"].browse(run_id).state, "running")
        os.kill(first.pid, signal.SIGKILL)
        first.wait(30)
        self.assertTrue(psutil.pid_exists(job_pid))  # the command outlived its runner
        second = self._runner()
        second.wait(120)
        self.assertEqual(second.returncode, 0, second.stderr.read())
        with committed_env(self.dbname) as env:
            run = env["devops.exec"].browse(run_id)
            self.assertEqual((run.state, run.exit_code), ("failed", 7), run.error_message)
            self.assertEqual(run.output, "finished\n")
            self.assertEqual(run.runner_pid, second.pid)

    def test_a_job_gone_from_its_machine_is_interrupted_and_its_processes_stopped(self):
        pidfile = os.path.join(self.tmp, "job.pid")
        daemon_pidfile = os.path.join(self.tmp, "daemon.pid")
        # A daemon that left the session (setsid) is stopped with the run too.
        daemon = f"setsid sh -c 'echo $$ > {daemon_pidfile}; exec sleep 120' &"
        with committed_env(self.dbname) as env:
            run_id = self._queue(env, f'{daemon} echo $$ > "{pidfile}"; exec sleep 120')
            token = env["devops.exec"].browse(run_id).token
        runner = self._runner()
        job_pid = self._wait_file(pidfile)
        daemon_pid = self._wait_file(daemon_pidfile)
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait(30)
        # As after a reboot of its machine: its job folder is gone.
        jobs_dir = os.path.join(config["data_dir"], "erplibre_devops", "jobs", self.dbname)
        shutil.rmtree(os.path.join(jobs_dir, token))
        with committed_env(self.dbname) as env:
            env["devops.exec"]._run_pending()
        with committed_env(self.dbname) as env:
            run = env["devops.exec"].browse(run_id)
            self.assertEqual(run.state, "interrupted")
            self.assertIn("job is gone", run.error_message)
        self.assertTrue(gone(job_pid), "the orphaned command was not stopped")
        self.assertTrue(gone(daemon_pid), "the daemon it started with setsid was not stopped")


@tagged("post_install", "-at_install")
class TestRunnerWorkers(TransactionCase):
    """Odoo as in production (--workers, default time limits: a cron worker is killed after
    120 s): a 150-second command still ends done, with its exit code and its whole output."""

    def test_a_command_longer_than_the_worker_time_limit(self):
        dbname = self.env.cr.dbname
        log = tempfile.NamedTemporaryFile(prefix="devops-workers-", suffix=".log", delete=False)
        self.addCleanup(os.unlink, log.name)
        server = subprocess.Popen(
            odoo_cli_argv(
                "server",
                dbname,
                "--workers=2",
                "--max-cron-threads=1",
                "--no-http",  # only its cron worker matters here
                f"--db-filter=^{dbname}$",
                "--log-level=info",
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.addCleanup(_stop, server)
        # Its cron worker listens for triggers once it is alive.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with open(log.name, encoding="utf-8", errors="replace") as handle:
                if "WorkerCron" in handle.read():
                    break
            time.sleep(0.5)
        time.sleep(2)
        with committed_env(dbname) as env:
            machine = env.ref(xmlid("machine_local"))
            script = "echo started; sleep 150; echo done after 150 s; exit 3"
            run_id = env["devops.exec"]._enqueue(
                machine, ["sh", "-c", script, "devops-runner-test"], timeout=400
            )
        self.addCleanup(self._delete, dbname, run_id)
        deadline = time.monotonic() + 330
        state = "queued"
        while time.monotonic() < deadline:
            with committed_env(dbname) as env:
                state = env["devops.exec"].browse(run_id).state
            if state not in ("queued", "running"):
                break
            time.sleep(2)
        with committed_env(dbname) as env:
            run = env["devops.exec"].browse(run_id)
            with open(log.name, encoding="utf-8", errors="replace") as handle:
                tail = handle.read()[-3000:]
            self.assertEqual((run.state, run.exit_code), ("failed", 3), tail)
            self.assertEqual(run.output, "started\ndone after 150 s\n")
            self.assertGreater(run.duration, 149)
        with open(log.name, encoding="utf-8", errors="replace") as handle:
            self.assertNotIn("timeout after", handle.read())  # no worker was killed

    @staticmethod
    def _delete(dbname, run_id):
        with committed_env(dbname) as env:
            env["devops.exec"].browse(run_id).with_context(devops_exec_retention=True).unlink()


def _stop(server):
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(10)
