"""One loop that supervises many detached jobs (``engine.jobs``) at once.

The runner adds jobs (started or attached again), then ``run`` polls them all about ten
times a second in one thread: new output goes into each job's capture; about once a second
``progress`` gets every capture (to store the output so far) and answers which jobs to
cancel; a job past its deadline or cancelled gets SIGTERM, then SIGKILL after the grace
period; a job that ended goes to ``finished`` with its result.  ``refill`` is asked for new
jobs whenever there is room.

``budget`` bounds a pass: when it is spent, the jobs still running are *detached* (closed,
never killed) and returned, for a later pass to attach again.  A job whose machine cannot be
read (a lost SSH connection) is detached the same way, with its error.
"""

import dataclasses
import signal
import time

from .executor import KILL_GRACE, ExecError


@dataclasses.dataclass
class Item:
    key: object
    job: object
    capture: object
    deadline: float | None = None  # time.time() after which the job is stopped
    started: float = dataclasses.field(default_factory=time.monotonic)
    stop_sent: float | None = None
    last_signal: int | None = None
    timed_out: bool = False
    cancelled: bool = False


class Supervisor:
    def __init__(self, poll_interval=0.1, flush_interval=1.0, grace=KILL_GRACE, capacity=4):
        self.refill_interval = 1.0
        self.poll_interval = poll_interval
        self.flush_interval = flush_interval
        self.grace = grace
        self.capacity = max(1, capacity)
        self.items = {}

    def add(self, key, job, capture, deadline=None, elapsed=0.0):
        """Supervise ``job``; ``elapsed``: seconds it already ran (attached again)."""
        self.items[key] = Item(key, job, capture, deadline, time.monotonic() - elapsed)

    def run(self, progress, finished, refill=None, budget=None, detached=None):
        """Supervise until no job is left (and ``refill`` has none), or ``budget`` seconds
        passed; returns the keys of the jobs left running (detached).

        ``progress(items)`` → keys to cancel; ``finished(item, result)``;
        ``refill(room)`` → [(key, job, capture, deadline)]; ``detached(item, error)``."""
        start = time.monotonic()
        last_flush = 0.0
        left = []
        refill_at = 0.0  # when to ask for new jobs: at once, after a job ended, else each second
        while True:
            if (
                refill is not None
                and len(self.items) < self.capacity
                and time.monotonic() >= refill_at
            ):
                for item in refill(self.capacity - len(self.items)):
                    self.add(*item)
                refill_at = time.monotonic() + self.refill_interval
            if not self.items:
                break
            busy = False
            for item in list(self.items.values()):
                try:
                    done = item.job.poll(item.capture)
                except ExecError as error:
                    self._detach(item, detached, str(error))
                    continue
                if done:
                    busy = True
                    refill_at = 0.0
                    del self.items[item.key]
                    item.job.close()
                    finished(item, self._result(item))
                else:
                    self._enforce(item)
            now = time.monotonic()
            if now - last_flush >= self.flush_interval and self.items:
                last_flush = now
                for key in progress(list(self.items.values())) or ():
                    item = self.items.get(key)
                    if item is not None and not item.cancelled:
                        item.cancelled = True
                        self._signal(item, signal.SIGTERM)
            if budget is not None and now - start >= budget:
                for item in list(self.items.values()):
                    self._detach(item, detached, None)
                    left.append(item.key)
                break
            if not busy:
                time.sleep(self.poll_interval)
        return left

    def _detach(self, item, callback, error):
        self.items.pop(item.key, None)
        item.job.close()
        if callback is not None:
            callback(item, error)

    def _enforce(self, item):
        if item.stop_sent is None:
            if item.deadline is not None and time.time() >= item.deadline:
                item.timed_out = True
                self._signal(item, signal.SIGTERM)
        elif item.last_signal != signal.SIGKILL and time.monotonic() - item.stop_sent >= self.grace:
            self._signal(item, signal.SIGKILL)

    def _signal(self, item, sig):
        item.job.kill(sig)
        item.last_signal = sig
        if item.stop_sent is None:
            item.stop_sent = time.monotonic()

    def _result(self, item):
        result = item.job.result()
        result.timed_out = item.timed_out
        result.cancelled = item.cancelled and not item.timed_out
        if result.exit_code is None and result.signal is None and item.last_signal:
            result.signal = int(item.last_signal)  # killed with its wrapper: our signal
        result.duration = time.monotonic() - item.started
        if (item.timed_out or item.cancelled) and item.last_signal != signal.SIGKILL:
            item.job.kill(signal.SIGKILL)  # what it left behind
        return result
