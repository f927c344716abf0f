"""Behaviour every executor must have; test_local.py and test_ssh.py run these on real parts.

Over SSH the remote machine is 127.0.0.1, so the tests can look at the remote processes
with psutil too.
"""

import os
import signal
import time
import tracemalloc

import psutil
import pytest

from engine.executor import ExecError, RunSpec, script_argv
from engine.output import STDERR, STDOUT, Capture

HOSTILE = [
    "; touch PWNED",
    "$(touch PWNED)",
    "`touch PWNED`",
    "| touch PWNED",
    "& touch PWNED &",
    "a\ntouch PWNED",
    "'\"quotes\"'",
    "  spaces  ",
    "../..",
    "-n",
    "*",
]


def run(executor, argv, capture=None, **kwargs):
    capture = capture or Capture()
    result = executor.run(RunSpec(list(argv), **kwargs), capture)
    return result, capture


def gone(pid, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def read_pids(path, count, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            with open(path, encoding="ascii") as pids:
                found = [int(p) for p in pids.read().split()]
            if len(found) >= count:
                return found
        time.sleep(0.02)
    raise AssertionError(f"the command did not write {count} pids to {path}")


class ExecutorCases:
    """Mixed into a test class that provides the ``executor`` fixture."""

    def test_exit_codes(self, executor):
        for code in (0, 1, 3, 127, 255):
            result, _ = run(executor, ["sh", "-c", f"exit {code}"])
            assert result.exit_code == code
            assert result.signal is None
            assert result.ok is (code == 0)

    def test_signal_reported(self, executor):
        result, _ = run(executor, ["sh", "-c", "kill -TERM $$"])
        assert result.exit_code is None
        assert result.signal == signal.SIGTERM
        assert result.signal_name == "SIGTERM"
        result, _ = run(executor, ["sh", "-c", "kill -KILL $$"])
        assert result.signal == signal.SIGKILL

    def test_stdout_and_stderr(self, executor):
        script = "echo out1; sleep 0.2; echo err1 >&2; sleep 0.2; echo out2"
        result, capture = run(executor, script_argv(script))
        assert result.ok
        assert capture.text(STDOUT) == "out1\nout2\n"
        assert capture.text(STDERR) == "err1\n"
        assert capture.text() == "out1\nerr1\nout2\n"

    def test_duration_exact(self, executor):
        result, _ = run(executor, ["sleep", "0.5"])
        assert 0.45 <= result.duration < 3

    def test_hostile_arguments_are_data(self, executor, tmp_path):
        for value in HOSTILE:
            result, capture = run(executor, ["printf", "%s", value], cwd=str(tmp_path))
            assert result.ok, value
            assert capture.text(STDOUT) == value
        assert not os.path.exists(tmp_path / "PWNED")
        assert os.listdir(tmp_path) == []

    def test_hostile_working_directory(self, executor, tmp_path):
        for name in ("$(touch PWNED)", "; touch PWNED", "a b", "`touch PWNED`", "-rf", "*"):
            path = tmp_path / name
            path.mkdir()
            result, capture = run(executor, ["pwd"], cwd=str(path))
            assert result.ok, name
            assert capture.text(STDOUT) == f"{path}\n"
        assert not (tmp_path / "PWNED").exists()

    def test_environment(self, executor):
        env = {"DEVOPS_VALUE": "$(touch PWNED); `x` 'y'", "DEVOPS_EMPTY": ""}
        result, capture = run(
            executor, script_argv('printf "%s|%s" "$DEVOPS_VALUE" "$DEVOPS_EMPTY"'), env=env
        )
        assert result.ok
        assert capture.text(STDOUT) == "$(touch PWNED); `x` 'y'|"

    def test_refused_before_running(self, executor):
        for spec in (
            RunSpec([]),
            RunSpec(["echo", "a\x00b"]),
            RunSpec(["pwd"], cwd="relative/dir"),
            RunSpec(["pwd"], cwd="/tmp/../etc"),
            RunSpec(["pwd"], cwd="/tmp/a\nb"),
            RunSpec(["env"], env={"BAD NAME": "x"}),
            RunSpec(["env"], env={"X": "a\x00"}),
            RunSpec(["true"], timeout=0),
            RunSpec(["echo", "x" * (128 * 1024 + 1)]),
            RunSpec(["echo"] + ["x" * 100_000] * 11),
        ):
            with pytest.raises(ExecError):
                executor.run(spec, Capture())

    def test_missing_directory(self, executor, tmp_path):
        with pytest.raises(ExecError) if self.start_errors_raise else _no_raise():
            result, capture = run(executor, ["pwd"], cwd=str(tmp_path / "missing"))
            assert result.exit_code == 126
            assert "missing" in capture.text(STDERR)

    def test_missing_program(self, executor):
        with pytest.raises(ExecError) if self.start_errors_raise else _no_raise():
            result, _ = run(executor, ["devops-no-such-program"])
            assert result.exit_code == 127

    def test_timeout_kills_the_tree(self, executor, tmp_path):
        pids = tmp_path / "pids"
        script = f"sleep 60 & echo $! >> {pids}; (sleep 60 & echo $! >> {pids}; wait) & wait"
        result, _ = run(executor, script_argv(script), timeout=1)
        assert result.timed_out
        assert not result.ok
        assert result.duration < 1 + 2 + 3  # timeout + grace + slack
        for pid in read_pids(pids, 2):
            assert gone(pid), f"process {pid} survived the timeout"

    def test_timeout_kills_a_process_ignoring_sigterm(self, executor, tmp_path):
        pids = tmp_path / "pids"
        script = f"trap '' TERM; echo $$ > {pids}; while :; do sleep 0.1; done"
        result, _ = run(executor, script_argv(script), timeout=0.5)
        assert result.timed_out
        assert result.signal == signal.SIGKILL
        assert gone(read_pids(pids, 1)[0])

    def test_cancel(self, executor, tmp_path):
        pids = tmp_path / "pids"
        started = time.monotonic()
        calls = []

        def should_cancel():
            calls.append(1)
            return time.monotonic() - started > 0.5

        capture = Capture()
        script = f"echo started; sleep 60 & echo $! > {pids}; wait"
        result = executor.run(RunSpec(script_argv(script)), capture, should_cancel)
        assert result.cancelled
        assert not result.timed_out
        assert capture.text(STDOUT) == "started\n"
        assert len(calls) >= 3
        assert gone(read_pids(pids, 1)[0])

    def test_timeout_kills_a_daemon_that_left_the_session(self, executor, tmp_path):
        """A double-forked setsid daemon (re-parented to init) carries the run's token."""
        pids = tmp_path / "pids"
        daemon = f"setsid sh -c 'sleep 60 & echo $! > {pids}; wait' > /dev/null 2>&1 &"
        script = f"( {daemon} ); sleep 60"
        token = "ab" * 16
        result, _ = run(executor, script_argv(script), timeout=1, token=token)
        assert result.timed_out
        pid = read_pids(pids, 1)[0]
        assert gone(pid), f"the daemon {pid} survived the timeout"

    def test_kill_marked_after_the_run(self, executor, tmp_path):
        """What a dead runner left behind is found by its token and stopped."""
        pids = tmp_path / "pids"
        token = "cd" * 16
        script = f"setsid sh -c 'sleep 60 & echo $! > {pids}; wait' > /dev/null 2>&1 &"
        result, _ = run(executor, script_argv(script), token=token)
        assert result.ok
        pid = read_pids(pids, 1)[0]
        assert not gone(pid, timeout=0.3)
        executor.kill_marked("ef" * 16)  # another run's token: nothing happens
        assert not gone(pid, timeout=0.3)
        executor.kill_marked(token)
        assert gone(pid)

    def test_token_is_checked(self, executor):
        for token in ("", "x; rm -rf /", "AB" * 16, "a" * 8, 123):
            with pytest.raises(ExecError):
                run(executor, ["true"], token=token)

    def test_non_utf8_output(self, executor):
        result, capture = run(executor, ["printf", "caf\\351 \\377 ok"])
        assert result.ok
        assert capture.text(STDOUT) == "caf\ufffd \ufffd ok"

    def test_large_output_bounded_memory(self, executor, tmp_path):
        size = self.large_output_mb * 1024 * 1024
        capture = Capture(spill_dir=str(tmp_path))
        tracemalloc.start()
        try:
            result = executor.run(RunSpec(["head", "-c", str(size), "/dev/zero"]), capture)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert result.ok
        assert capture.size == size
        assert capture.truncated
        assert os.path.getsize(capture.spill_path) == size
        assert peak < 16 * 1024 * 1024, f"peak Python memory {peak} bytes"


class _no_raise:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
