"""The executor contract: one way to run a command, locally or over SSH.

A :class:`RunSpec` says what to run: an argv list (never a shell string built from input), or a
script run by an explicitly named shell (``script_argv``), a working directory, extra
environment variables and a timeout.  ``Executor.run(spec, capture, should_cancel)`` runs it,
streams its output into an :class:`engine.output.Capture` as it comes, calls ``should_cancel``
a few times a second (the caller's hook to flush progress and to ask for a stop), and returns a
:class:`RunResult`: exit code or signal, duration, and why it stopped.

On timeout or cancel the whole process tree is stopped: SIGTERM, then SIGKILL after
``KILL_GRACE`` seconds.  A run with a ``token`` has it in its environment as
``DEVOPS_RUN_TOKEN``; every process it starts inherits it, even one that left the process
group and the session (``setsid``, a daemon's double fork), so stopping a run also signals
every process of the machine that carries its token (``kill_marked_argv``; the local
executor reads /proc through psutil).  That is also how the processes of a run whose runner
died are found and stopped later.
"""

import dataclasses
import re
import signal
import time

from . import validation
from .output import Capture

KILL_GRACE = 2.0
POLL_INTERVAL = 0.1
MAX_ARG_BYTES = 128 * 1024  # Linux refuses one argument longer than this (MAX_ARG_STRLEN)
MAX_ARGV_BYTES = 1024 * 1024
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TOKEN = re.compile(r"[0-9a-f]{16,64}")
TOKEN_VAR = "DEVOPS_RUN_TOKEN"  # noqa: S105 - a variable name, not a password

# $1 token, $2 signal name: signal every process whose environment holds the token
# (Linux /proc; GNU grep's -z reads the NUL-separated environ files).
_KILL_MARKED = r"""
grep -lzxF "DEVOPS_RUN_TOKEN=$1" /proc/[0-9]*/environ 2>/dev/null |
while IFS=/ read -r _ _ pid _; do
    [ "$pid" = "$$" ] || kill -"$2" "$pid" 2>/dev/null
done
exit 0
"""


def check_file_target(path, mode):
    """Refuse a path or a mode that ``write_file`` must never be given."""
    problem = validation.check_absolute_path(path)
    if problem:
        raise ExecError(str(problem))
    if isinstance(mode, bool) or not isinstance(mode, int) or not 0 <= mode <= 0o777:
        raise ExecError("A file mode is an integer from 0 to 0o777.")


class ExecError(Exception):
    """A run could not start or reach its machine; ``str()`` is a message for the user."""


def script_argv(script, shell="/bin/sh"):
    """The argv that runs ``script`` with the named shell: ``[shell, "-c", script]``."""
    return [shell, "-c", script]


def check_token(token):
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        raise ExecError("A run token is 16 to 64 lowercase hexadecimal digits.")
    return token


def kill_marked_argv(token, sig=signal.SIGKILL):
    """argv that signals every process carrying the run token ``token`` (any executor)."""
    name = signal.Signals(sig).name.removeprefix("SIG")
    return ["/bin/sh", "-c", _KILL_MARKED, "devops-kill", check_token(token), name]


@dataclasses.dataclass
class RunSpec:
    argv: list
    cwd: str | None = None
    env: dict = dataclasses.field(default_factory=dict)
    timeout: float | None = None
    token: str | None = None  # marks every process of the run (see the module docstring)

    def environment(self):
        """The variables added to the command's environment, the token's included."""
        if not self.token:
            return dict(self.env)
        return {**self.env, TOKEN_VAR: self.token}

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
            if not isinstance(self.cwd, str):
                raise ExecError("The working directory must be a path.")
            problem = validation.check_absolute_path(self.cwd)
            if problem:
                raise ExecError(str(problem))
        if not isinstance(self.env, dict):
            raise ExecError("The environment must be a dictionary of variables.")
        for name, value in self.env.items():
            if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):
                raise ExecError(f"'{name}' is not a valid environment variable name.")
            if "\x00" in str(value):
                raise ExecError(f"The environment variable {name} contains a NUL character.")
        if self.timeout is not None and (
            isinstance(self.timeout, bool)
            or not isinstance(self.timeout, int | float)
            or not self.timeout > 0
        ):
            raise ExecError("The timeout must be a positive number of seconds.")
        if self.token is not None:
            check_token(self.token)


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

    def read_stdout(self, argv, cwd=None, env=None, timeout=30, limit=None):
        """Run a short command and read its stdout: ``(True, stdout)`` (raw text, NUL bytes
        kept), or ``(False, what went wrong)`` (its output, or why it could not run).
        Without ``limit``, a long output keeps its head and tail only; with it, the whole
        output up to ``limit`` bytes is read, and a longer one is a failure."""
        capture = Capture() if limit is None else Capture(head=limit, tail=0)
        try:
            result = self.run(RunSpec(list(argv), cwd=cwd, env=env or {}, timeout=timeout), capture)
        except ExecError as error:
            return False, str(error)
        if limit is not None and capture.streams["stdout"].truncated:
            return False, f"The output is over {limit} bytes."
        if result.ok:
            return True, capture.text("stdout", raw=True)
        return False, capture.text() or f"exit status {result.exit_code}"

    def write_file(self, path, data, mode=0o600):
        """Write ``data`` (bytes) to the absolute ``path`` on the machine, with ``mode``; its
        folder is made (mode 700) when missing.  The content never appears in a command
        line: secrets (deploy keys, tokens, configuration files with passwords) go this way.
        Raises ExecError."""
        raise NotImplementedError

    def home(self):
        """The home folder of the user the commands run as (absolute path)."""
        ok, out = self.read_stdout(["/bin/sh", "-c", 'printf %s "$HOME"'], timeout=20)
        if not ok or not out.startswith("/"):
            raise ExecError(f"The home folder could not be read: {out.strip()[-500:]}")
        return out

    def start_job(self, spec, jobs_dir=None):
        """Launch ``spec`` detached (engine.jobs); returns its Job.  ``spec.token`` names it."""
        raise NotImplementedError

    def attach_job(self, token, jobs_dir=None):
        """The Job of an earlier ``start_job`` (``missing`` when it does not exist)."""
        raise NotImplementedError

    def kill_marked(self, token, sig=signal.SIGKILL):
        """Signal every process of the machine that carries the run token ``token`` (the
        processes of a run whose runner died)."""
        self.run(RunSpec(kill_marked_argv(token, sig), timeout=20), Capture())

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
