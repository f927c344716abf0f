"""The executor contract: one way to run a command, locally or over SSH.

A :class:`RunSpec` says what to run: an argv list (never a shell string built from input), or a
script run by an explicitly named shell (``script_argv``), a working directory, extra
environment variables and a timeout.  ``Executor.run(spec, capture, should_cancel)`` runs it,
streams its output into an :class:`engine.output.Capture` as it comes, calls ``should_cancel``
a few times a second (the caller's hook to flush progress and to ask for a stop), and returns a
:class:`RunResult`: exit code or signal, duration, and why it stopped.

On timeout or cancel the whole process tree is stopped: SIGTERM, then SIGKILL after
``KILL_GRACE`` seconds.
"""

import dataclasses
import re
import signal
import time

from . import validation

KILL_GRACE = 2.0
POLL_INTERVAL = 0.1
MAX_ARG_BYTES = 128 * 1024  # Linux refuses one argument longer than this (MAX_ARG_STRLEN)
MAX_ARGV_BYTES = 1024 * 1024
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ExecError(Exception):
    """A run could not start or reach its machine; ``str()`` is a message for the user."""


def script_argv(script, shell="/bin/sh"):
    """The argv that runs ``script`` with the named shell: ``[shell, "-c", script]``."""
    return [shell, "-c", script]


@dataclasses.dataclass
class RunSpec:
    argv: list
    cwd: str | None = None
    env: dict = dataclasses.field(default_factory=dict)
    timeout: float | None = None

    def check(self):
        """Refuse what no executor should run; raises ExecError."""
        if not isinstance(self.argv, list | tuple) or not self.argv:
            raise ExecError("The command is empty: give a program and its arguments.")
        total = 0
        for arg in self.argv:
            if not isinstance(arg, str):
                raise ExecError(f"Every argument must be text, not {type(arg).__name__}.")
            if "\x00" in arg:
                raise ExecError("An argument contains a NUL character.")
            size = len(arg.encode("utf-8", errors="surrogateescape"))
            if size > MAX_ARG_BYTES:
                raise ExecError(
                    f"An argument is {size} bytes long, over the {MAX_ARG_BYTES} bytes the "
                    "system accepts: put long scripts in a file of the workspace and run it."
                )
            total += size
        if total > MAX_ARGV_BYTES:
            raise ExecError("The command is over 1 MB long: put it in a script file and run it.")
        if self.cwd is not None:
            problem = validation.check_absolute_path(self.cwd)
            if problem:
                raise ExecError(str(problem))
        for name, value in self.env.items():
            if not _ENV_NAME.match(name):
                raise ExecError(f"'{name}' is not a valid environment variable name.")
            if "\x00" in str(value):
                raise ExecError(f"The environment variable {name} contains a NUL character.")
        if self.timeout is not None and self.timeout <= 0:
            raise ExecError("The timeout must be a positive number of seconds.")


@dataclasses.dataclass
class RunResult:
    exit_code: int | None = None
    signal: int | None = None
    duration: float = 0.0
    timed_out: bool = False
    cancelled: bool = False

    @property
    def ok(self):
        return self.exit_code == 0 and not (self.timed_out or self.cancelled)

    @property
    def signal_name(self):
        if self.signal is None:
            return None
        try:
            return signal.Signals(self.signal).name
        except ValueError:
            return str(self.signal)


class Executor:
    """Runs commands on one machine.  Subclasses implement ``_start``/``_pump``/``_kill``."""

    def run(self, spec, capture, should_cancel=None, on_start=None):
        """Run ``spec``; ``on_start(info)`` gets what identifies the process (pid, start time)."""
        spec.check()
        start = time.monotonic()
        deadline = start + spec.timeout if spec.timeout else None
        result = RunResult()
        handle = self._start(spec)
        try:
            if on_start is not None:
                on_start(self._info(handle))
            stop_sent = None
            while not self._pump(handle, capture, POLL_INTERVAL):
                now = time.monotonic()
                if stop_sent is None:
                    if deadline is not None and now >= deadline:
                        result.timed_out = True
                    elif should_cancel is not None and should_cancel():
                        result.cancelled = True
                    if result.timed_out or result.cancelled:
                        self._kill(handle, signal.SIGTERM)
                        stop_sent = now
                elif now - stop_sent >= KILL_GRACE:
                    self._kill(handle, signal.SIGKILL)
                    stop_sent = float("inf")
            result.exit_code, result.signal = self._status(handle)
        finally:
            self._close(handle)
            capture.close()
        if (result.timed_out or result.cancelled) and stop_sent != float("inf"):
            # The leader exited on SIGTERM; children it left behind get SIGKILL.
            self._kill(handle, signal.SIGKILL)
        result.duration = time.monotonic() - start
        return result

    def _start(self, spec):
        raise NotImplementedError

    def _pump(self, handle, capture, timeout):
        """Move available output into ``capture``; True once the run has ended."""
        raise NotImplementedError

    def _kill(self, handle, sig):
        raise NotImplementedError

    def _status(self, handle):
        """(exit_code, signal) of the finished run."""
        raise NotImplementedError

    def _close(self, handle):
        """Release what ``_start`` opened."""

    def _info(self, handle):
        """What identifies the started process on its machine: {"pid", "create_time"}."""
        del handle  # nothing by default
        return {}
