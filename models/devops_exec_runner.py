"""The background runner: it starts queued runs as detached jobs, supervises them, and stores
what they did.  Plain bookkeeping around ``engine.jobs`` and ``engine.supervisor``.

A pass (the crons *DevOps: run queued commands* and *DevOps: supervise running commands*,
which both call ``devops.exec._run_pending``):

1. Attaches again to the runs left ``running`` by a pass that ended or died: a run whose
   PostgreSQL advisory lock nobody holds has no supervisor.  Its job is found on its machine
   by the run's token and supervised from where it is; a job that is gone (its machine
   rebooted, its folder deleted) makes the run ``interrupted``, and whatever still carries
   its token is stopped.
2. Claims queued runs one at a time, under a claim lock (``pg_advisory_lock``, then a fresh
   transaction: claims never race), the oldest first, and never a run of an instance that
   already has one running or an older one queued: the runs of one instance happen one after
   the other, in the order they were queued.  Before the claim commits, the runner takes the
   run's advisory lock on a connection of its own, held while it supervises the run.
3. Starts each claimed run detached (``Executor.start_job``), after checking again that its
   machine is the one it was queued for and that its author may still run it there.
4. Supervises every job in one loop (up to *Parallel runs* at once): the output so far is
   stored about once a second, cancel requests are read in the same short transaction,
   timeouts are enforced.  A finished run's result is committed first; then, in a new
   transaction, its owners are told (``devops.exec._notify_owner``).

A pass lasts at most its budget: under ``--workers`` the cron's time limit
(``limit_time_real_cron``, else ``limit_time_real``) less 80 s (40 s with the default 120 s:
the worker's idle sleep counts against its limit), else five minutes.  Then it lets
go of the jobs still running (they go on) and triggers the other cron, which attaches again
at once: a command may run for hours; no worker's time limit, crash or restart of Odoo ends
it.  In tests (registry in test mode) a pass runs until nothing is left.
"""

import logging
import os
import socket
import tempfile
import time

import psycopg2
from psycopg2 import errors as pg_errors
from psycopg2.errors import TransactionRollbackError

from odoo import SUPERUSER_ID, api, fields, models, sql_db
from odoo.tools import config

from ..engine.executor import ExecError
from ..engine.output import Capture
from ..engine.supervisor import Supervisor

_logger = logging.getLogger(__name__)

LOCK_CLASS = 0x0DE7  # first key of the runs' advisory locks (the second is the run's id)
CLAIM_LOCK = (0x0DE8, 0)
RUNNER_CRONS = ("erplibre_devops.ir_cron_exec_runner", "erplibre_devops.ir_cron_exec_supervisor")
THREADED_BUDGET = 300
WORKER_SLEEP = 70  # odoo.service.server: a cron worker sleeps SLEEP_INTERVAL + pid % 10
SPILL_LIMIT = 2**30
RETRIES = 5


class DevopsExecRunner(models.AbstractModel):
    _name = "devops.exec.runner"
    _description = "DevOps runner"

    @api.model
    def _run_pass(self, limit=None):
        """One pass (see the module docstring); returns how many runs it finished."""
        registry = self.env.registry
        locks = _LockHolder(self.env.cr.dbname)
        state = {"claimed": 0, "finished": 0}
        try:
            supervisor = Supervisor(capacity=self._capacity(), poll_interval=0.05)
            for item in self._attach_orphans(registry, locks):
                supervisor.add(*item)

            def refill(room):
                started = []
                while room > 0 and (limit is None or state["claimed"] < limit):
                    run_id = self._claim(registry, locks)
                    if run_id is None:
                        break
                    state["claimed"] += 1
                    item = self._start(registry, run_id, locks)
                    if item is None:  # could not start: already finished, failed
                        state["finished"] += 1
                        continue
                    started.append(item)
                    room -= 1
                return started

            def progress(items):
                return self._progress(registry, items)

            def finished(item, result):
                state["finished"] += 1
                self._collect(registry, item, result, locks)

            def detached(item, error):
                locks.release(item.key)
                if error:
                    _logger.warning("devops.exec %s: supervision paused: %s", item.key, error)

            left = supervisor.run(progress, finished, refill, self._budget(), detached)
        finally:
            locks.close()
        if left or self._queued_left(registry):
            self._trigger_next()
        return state["finished"]

    # --- Settings of a pass ----------------------------------------------------------------

    @api.model
    def _capacity(self):
        if self.env.context.get("devops_runner_parallel"):
            return int(self.env.context["devops_runner_parallel"])
        if self.env.registry.in_test_mode():
            return 1
        param = self.env["ir.config_parameter"].sudo().get_param("erplibre_devops.runner_workers")
        try:
            return max(1, min(64, int(param or 4)))
        except ValueError:
            return 4

    @api.model
    def _budget(self):
        """Seconds a pass may last (None: until nothing is left).

        Under ``--workers`` a cron worker is killed when its work since it last told the
        master it was alive exceeds the time limit; it tells it *before* sleeping up to 70 s
        (60 s and a jitter) for work: a pass keeps 80 s of the limit for that sleep and for
        the other crons of the same turn."""
        context = self.env.context
        if "devops_runner_budget" in context:
            return context["devops_runner_budget"]
        if self.env.registry.in_test_mode():
            return None
        if config.get("workers"):
            limit = config.get("limit_time_real_cron") or -1
            if limit <= 0:
                limit = config.get("limit_time_real") or 0
            if limit > 0:
                return max(10, min(limit - WORKER_SLEEP - 10, THREADED_BUDGET))
        return THREADED_BUDGET

    @api.model
    def _jobs_dir(self):
        """Where this machine's jobs live: the Odoo data directory (kept across restarts)."""
        base = config.get("data_dir") or tempfile.gettempdir()
        return os.path.join(base, "erplibre_devops", "jobs", self.env.cr.dbname)

    # --- Claim and start -------------------------------------------------------------------

    @api.model
    def _claim(self, registry, locks):
        """Claim the next queued run that may start; its id, or None."""
        for _attempt in range(5):
            row = None
            with registry.cursor() as cr:
                cr.execute("SELECT pg_advisory_lock(%s, %s)", CLAIM_LOCK)
                # A fresh snapshot once the lock is ours: see the claims committed meanwhile.
                cr.commit()  # pylint: disable=invalid-commit
                try:
                    # The oldest queued run whose instance (if any) has no run running and
                    # no older one queued; the partial indexes of devops.exec keep it cheap
                    # with thousands queued.
                    cr.execute(
                        """
                        UPDATE devops_exec
                           SET state = 'running', date_start = %s,
                               runner_host = %s, runner_pid = %s,
                               write_date = now() at time zone 'UTC'
                         WHERE id = (
                            SELECT e.id FROM devops_exec e
                             WHERE e.state = 'queued'
                               AND (e.instance_id IS NULL OR (
                                    e.id = (SELECT min(q.id) FROM devops_exec q
                                             WHERE q.instance_id = e.instance_id
                                               AND q.state = 'queued')
                                    AND NOT EXISTS (
                                        SELECT 1 FROM devops_exec r
                                         WHERE r.instance_id = e.instance_id
                                           AND r.state = 'running')))
                             ORDER BY e.id LIMIT 1 FOR UPDATE SKIP LOCKED)
                        RETURNING id
                        """,
                        [fields.Datetime.now(), socket.gethostname(), os.getpid()],
                    )
                    row = cr.fetchone()
                    if row:
                        locks.acquire(row[0])  # before the claim is committed
                    cr.commit()  # pylint: disable=invalid-commit
                except pg_errors.SerializationFailure:
                    cr.rollback()
                    if row:
                        locks.release(row[0])
                    time.sleep(0.05)
                    continue
                finally:
                    cr.execute("SELECT pg_advisory_unlock(%s, %s)", CLAIM_LOCK)
                    cr.commit()  # pylint: disable=invalid-commit
                return row[0] if row else None
        return None

    @api.model
    def _start(self, registry, run_id, locks):
        """Start a claimed run detached; the supervisor's item, or None when it ended at once
        (refused or could not start: recorded on the run)."""
        with registry.cursor() as cr:
            run = api.Environment(cr, SUPERUSER_ID, {})["devops.exec"].browse(run_id)
            problem = run._start_problem()
            job = None
            if not problem:
                try:
                    job = run.machine_id._executor().start_job(run._run_spec(), self._jobs_dir())
                except ExecError as error:
                    problem = str(error)
                except Exception as error:
                    _logger.exception("devops.exec %s could not start", run_id)
                    problem = f"Internal error of the runner: {error!r}"
            if job is not None:
                cr.execute(
                    "UPDATE devops_exec SET process_pid = %s WHERE id = %s", [job.pid, run_id]
                )
                deadline = time.time() + run._run_spec().timeout
        if job is None:
            self._finish_now(registry, run_id, None, Capture(), problem, locks)
            return None
        return run_id, job, Capture(), deadline

    # --- Attach again ----------------------------------------------------------------------

    @api.model
    def _attach_orphans(self, registry, locks):
        """Supervisor items for the running runs nobody supervises; the runs whose job is gone
        end ``interrupted``."""
        items, gone = [], []
        with registry.cursor() as cr:
            cr.execute(
                "SELECT id, runner_host FROM devops_exec WHERE state = 'running' ORDER BY id"
            )
            rows = cr.fetchall()
        for run_id, host in rows:
            if not locks.try_acquire(run_id):
                continue  # a live runner supervises it
            with registry.cursor() as cr:
                run = api.Environment(cr, SUPERUSER_ID, {})["devops.exec"].browse(run_id)
                if run.state != "running":  # finished meanwhile
                    locks.release(run_id)
                    continue
                local = run.machine_id.kind == "local"
                if local and host and host != socket.gethostname():
                    locks.release(run_id)  # another server's job: that server attaches
                    continue
                job = None
                if run.token:
                    try:
                        job = run.machine_id._executor().attach_job(
                            run.token, self._jobs_dir() if local else None
                        )
                    except ExecError as error:
                        _logger.warning("devops.exec %s: cannot attach yet: %s", run_id, error)
                        locks.release(run_id)
                        continue
                if job is None or job.missing or self._job_is_missing(job):
                    gone.append(run_id)
                    continue
                cr.execute(
                    "UPDATE devops_exec SET runner_host = %s, runner_pid = %s WHERE id = %s",
                    [socket.gethostname(), os.getpid(), run_id],
                )
                started = run.date_start or fields.Datetime.now()
                elapsed = (fields.Datetime.now() - started).total_seconds()
                deadline = time.time() - elapsed + run._run_spec().timeout
                items.append((run_id, job, Capture(), deadline, elapsed))
        for run_id in gone:
            self._interrupt(registry, run_id, locks)
        return items

    @staticmethod
    def _job_is_missing(job):
        """Wait for a follower's first answer (over SSH it is asynchronous)."""
        deadline = time.monotonic() + 10
        probe = Capture()
        while not job.pid and not job.finished and time.monotonic() < deadline:
            job.poll(probe)
            time.sleep(0.02)
        return job.missing

    @api.model
    def _interrupt(self, registry, run_id, locks):
        with registry.cursor() as cr:
            cr.execute(
                "UPDATE devops_exec SET state = 'interrupted', exit_code = -1,"
                " date_end = %s, error_message = %s"
                " WHERE id = %s AND state = 'running'",
                [
                    fields.Datetime.now(),
                    "The command's job is gone from its machine (the machine restarted, or "
                    "its folder was deleted) before its end was recorded; what it started was "
                    "stopped.",
                    run_id,
                ],
            )
        with registry.cursor() as cr:
            run = api.Environment(cr, SUPERUSER_ID, {})["devops.exec"].browse(run_id)
            run._kill_leftovers()
        self._notify(registry, run_id)
        locks.release(run_id)

    # --- While it runs -------------------------------------------------------------------

    @api.model
    def _progress(self, registry, items):
        """Store the output so far of every job; return the ones to cancel."""
        with registry.cursor() as cr:
            for item in items:
                cr.execute(
                    "UPDATE devops_exec SET output = %s, output_size = %s,"
                    " write_date = now() at time zone 'UTC' WHERE id = %s",
                    [item.capture.text(), item.capture.size, item.key],
                )
            cr.execute(
                "SELECT id FROM devops_exec WHERE id IN %s AND cancel_requested",
                [tuple(item.key for item in items)],
            )
            return [row[0] for row in cr.fetchall()]

    # --- The end ---------------------------------------------------------------------------

    @api.model
    def _collect(self, registry, item, result, locks):
        spill = None
        message = None
        job = item.job
        if job.lost and not (result.timed_out or result.cancelled):
            message = "The command ended without an exit status (killed with its wrapper)."
        if job.missing:
            message = "The command's job disappeared from its machine."
        try:
            if item.capture.truncated and not job.missing:
                # Next to the jobs (this machine's data directory): moved, not copied, into
                # the filestore, and the output file of a local job moves here too.
                folder = self._jobs_dir()
                os.makedirs(folder, exist_ok=True)
                fd, spill = tempfile.mkstemp(prefix="output-", dir=folder)
                os.close(fd)
                job.full_output(spill, SPILL_LIMIT)
        except (ExecError, OSError) as error:
            _logger.warning("devops.exec %s: the whole output was not kept: %s", item.key, error)
            spill = None
        self._finish_now(registry, item.key, result, item.capture, message, locks, spill)
        try:
            job.cleanup()
        except (ExecError, OSError) as error:
            _logger.warning("devops.exec %s: its job folder stays: %s", item.key, error)

    @api.model
    def _finish_now(self, registry, run_id, result, capture, message, locks, spill=None):
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"devops_exec_runner": True})
            env["devops.exec"].browse(run_id)._finish(result, capture, message, spill)
        # The result is committed: whatever the owners do next cannot lose it.
        self._notify(registry, run_id)
        locks.release(run_id)

    @api.model
    def _notify(self, registry, run_id):
        """Tell the run's owners, in a transaction of their own, again when a concurrent
        update (the operate cron writing the same instance) made it fail."""
        for attempt in range(RETRIES):
            try:
                with registry.cursor() as cr:
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    env["devops.exec"].browse(run_id)._notify_owner()
                return
            except TransactionRollbackError as error:
                if attempt == RETRIES - 1:
                    _logger.error("devops.exec %s: its owners could not be told: %s", run_id, error)
                    return
                time.sleep(0.1 * 2**attempt)  # a retry's back-off, in the runner's own loop

    @api.model
    def _queued_left(self, registry):
        with registry.cursor() as cr:
            cr.execute("SELECT 1 FROM devops_exec WHERE state IN ('queued', 'running') LIMIT 1")
            return bool(cr.fetchone())

    @api.model
    def _trigger_next(self):
        """Wake the other runner cron (a cron's own triggers end with its job)."""
        current = self.env.context.get("cron_id")
        for xmlid in RUNNER_CRONS:
            cron = self.env.ref(xmlid, raise_if_not_found=False)
            if cron and cron.id != current:
                with self.env.registry.cursor() as cr:
                    cron.with_env(cron.env(cr=cr)).sudo()._trigger()
                return


class _LockHolder:
    """A connection of its own that holds the advisory locks of the runs being supervised:
    they live as long as this runner does."""

    def __init__(self, dbname):
        self.cr = sql_db.db_connect(dbname).cursor()
        self.held = set()

    def _query(self, query, run_id):
        self.cr.execute(query, [LOCK_CLASS, run_id])
        value = self.cr.fetchone()[0]
        # A connection holding nothing but locks: commit ends its transaction.
        self.cr.commit()  # pylint: disable=invalid-commit
        return value

    def acquire(self, run_id):
        self._query("SELECT pg_advisory_lock(%s, %s)", run_id)
        self.held.add(run_id)

    def try_acquire(self, run_id):
        if self._query("SELECT pg_try_advisory_lock(%s, %s)", run_id):
            self.held.add(run_id)
            return True
        return False

    def release(self, run_id):
        if run_id in self.held:
            self.held.discard(run_id)
            try:
                self._query("SELECT pg_advisory_unlock(%s, %s)", run_id)
            except psycopg2.Error:
                _logger.warning("devops.exec %s: its lock could not be released", run_id)

    def close(self):
        try:
            self.cr.execute("SELECT pg_advisory_unlock_all()")
            self.cr.commit()  # pylint: disable=invalid-commit
        finally:
            self.cr.close()
