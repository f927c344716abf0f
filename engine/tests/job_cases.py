"""Detached jobs and their supervisor: behaviour every executor must have.

test_jobs.py runs these on this machine and over the test sshd (127.0.0.1, so the remote
processes can be looked at with psutil too)."""

import secrets
import signal
import time

import pytest
from executor_cases import gone, read_pids

from engine.executor import ExecError, RunSpec, script_argv
from engine.output import STDERR, STDOUT, Capture
from engine.supervisor import Supervisor


def token():
    return secrets.token_hex(16)


def ended(job, timeout=10):
    """Poll ``job`` until it has ended (a follower over SSH answers asynchronously)."""
    deadline = time.monotonic() + timeout
    capture = Capture()
    while not job.poll(capture):
        assert time.monotonic() < deadline, "the job did not end"
        time.sleep(0.02)
    return job


def supervise(jobs, progress=None, budget=None, grace=2.0):
    """Run a supervisor over {key: (job, deadline)}; returns ({key: (result, capture)}, left)."""
    supervisor = Supervisor(poll_interval=0.05, flush_interval=0.2, grace=grace)
    captures = {}
    for key, (job, deadline) in jobs.items():
        captures[key] = Capture()
        supervisor.add(key, job, captures[key], deadline)
    results = {}

    def finished(item, result):
        results[item.key] = (result, item.capture)

    left = supervisor.run(progress or (lambda items: ()), finished, budget=budget)
    return results, left


class JobCases:
    """Mixed into a class that provides ``executor`` and ``jobs_dir`` fixtures."""

    def start(self, executor, jobs_dir, script, **kwargs):
        spec = RunSpec(script_argv(script), token=token(), **kwargs)
        return executor.start_job(spec, jobs_dir)

    def test_output_and_exit_code(self, executor, jobs_dir, tmp_path):
        job = self.start(
            executor, jobs_dir, "pwd; echo out; echo err >&2; exit 3", cwd=str(tmp_path)
        )
        assert job.pid > 0
        results, left = supervise({"a": (job, None)})
        result, capture = results["a"]
        assert left == []
        assert (result.exit_code, result.signal) == (3, None)
        assert capture.text(STDOUT) == f"{tmp_path}\nout\n"
        assert capture.text(STDERR) == "err\n"
        job.cleanup()

    def test_environment_and_token(self, executor, jobs_dir):
        spec = RunSpec(["sh", "-c", 'echo "$GREETING $DEVOPS_RUN_TOKEN"'], env={"GREETING": "hi"})
        spec.token = token()
        job = executor.start_job(spec, jobs_dir)
        results, _left = supervise({"a": (job, None)})
        assert results["a"][1].text(STDOUT) == f"hi {spec.token}\n"

    def test_signal(self, executor, jobs_dir):
        job = self.start(executor, jobs_dir, "kill -TERM $$")
        results, _left = supervise({"a": (job, None)})
        result = results["a"][0]
        assert (result.exit_code, result.signal) == (None, signal.SIGTERM)

    def test_outlives_its_supervisor_and_is_attached_again(self, executor, jobs_dir):
        """The supervisor goes (a killed worker): the command goes on; another attaches."""
        job = self.start(executor, jobs_dir, "echo before; sleep 1.5; echo after; exit 4")
        results, left = supervise({"a": (job, None)}, budget=0.3)
        assert (results, left) == ({}, ["a"])
        time.sleep(0.2)
        again = executor.attach_job(job.token, jobs_dir)
        assert not again.missing
        results, left = supervise({"a": (again, None)})
        result, capture = results["a"]
        assert result.exit_code == 4
        assert capture.text(STDOUT) == "before\nafter\n"  # read again from the start
        again.cleanup()
        assert ended(executor.attach_job(job.token, jobs_dir)).missing  # cleaned up

    def test_attach_after_the_end(self, executor, jobs_dir):
        job = self.start(executor, jobs_dir, "echo done")
        time.sleep(1)
        job.close()
        again = executor.attach_job(job.token, jobs_dir)
        results, _left = supervise({"a": (again, None)})
        assert results["a"][0].exit_code == 0
        assert results["a"][1].text(STDOUT) == "done\n"

    def test_unknown_job_is_missing(self, executor, jobs_dir):
        assert ended(executor.attach_job(token(), jobs_dir)).missing

    def test_timeout_terms_then_kills(self, executor, jobs_dir, tmp_path):
        pids = tmp_path / "pids"
        job = self.start(executor, jobs_dir, f"echo $$ > {pids}; sleep 60")
        results, _left = supervise({"a": (job, time.time() + 0.5)})
        result = results["a"][0]
        assert result.timed_out
        assert result.signal == signal.SIGTERM
        assert gone(read_pids(pids, 1)[0])
        stubborn = tmp_path / "stubborn"
        job = self.start(
            executor, jobs_dir, f"trap '' TERM; echo $$ > {stubborn}; while :; do sleep 0.1; done"
        )
        results, _left = supervise({"a": (job, time.time() + 0.5)}, grace=0.5)
        result = results["a"][0]
        assert result.timed_out
        assert result.signal == signal.SIGKILL
        assert gone(read_pids(stubborn, 1)[0])

    def test_cancel_stops_what_left_the_session(self, executor, jobs_dir, tmp_path):
        pids = tmp_path / "pids"
        daemon = f"setsid sh -c 'echo $$ > {pids}; exec sleep 60' > /dev/null 2>&1 &"
        job = self.start(executor, jobs_dir, f"{daemon} sleep 60")
        started = time.monotonic()

        def progress(items):
            return [item.key for item in items] if time.monotonic() - started > 0.5 else []

        results, _left = supervise({"a": (job, None)}, progress=progress)
        result = results["a"][0]
        assert result.cancelled
        assert gone(read_pids(pids, 1)[0])

    def test_large_output_read_head_and_tail_only(self, executor, jobs_dir, tmp_path):
        size = 20 * 1024 * 1024
        job = self.start(
            executor, jobs_dir, f"head -c {size} /dev/zero | tr '\\0' x; printf END; echo oops >&2"
        )
        results, _left = supervise({"a": (job, None)})
        result, capture = results["a"]
        assert result.exit_code == 0
        assert capture.streams[STDOUT].size == size + 3
        assert capture.truncated
        text = capture.text(STDOUT)
        assert text.startswith("x" * 1000)
        assert text.endswith("xEND")
        assert "bytes omitted" in text
        assert capture.text(STDERR) == "oops\n"
        whole = tmp_path / "whole"
        assert job.full_output(str(whole), 2**30) == size + 3 + 5
        with open(whole, "rb") as handle:
            handle.seek(size)
            assert handle.read() == b"ENDoops\n"

    def test_lost_when_killed_with_its_wrapper(self, executor, jobs_dir):
        job = self.start(executor, jobs_dir, "sleep 60")
        time.sleep(0.3)
        job.kill(signal.SIGKILL)
        results, _left = supervise({"a": (job, None)})
        assert job.lost
        assert (results["a"][0].exit_code, results["a"][0].signal) == (None, None)

    def test_refused_before_starting(self, executor, jobs_dir):
        with pytest.raises(ExecError):
            executor.start_job(RunSpec(["true"]), jobs_dir)  # no token
        with pytest.raises(ExecError):
            executor.start_job(RunSpec(["true"], token="x;rm -rf /"), jobs_dir)
        spec = RunSpec(["true"], token=token(), cwd="/no/such/dir")
        with pytest.raises(ExecError, match=r"does not exist|can't cd|No such file"):
            executor.start_job(spec, jobs_dir)

    def test_many_jobs_at_once(self, executor, jobs_dir):
        jobs = {i: (self.start(executor, jobs_dir, f"sleep 0.5; echo {i}"), None) for i in range(8)}
        started = time.monotonic()
        results, _left = supervise(jobs)
        assert time.monotonic() - started < 4  # concurrently, not one after the other
        assert {key: capture.text(STDOUT) for key, (_r, capture) in results.items()} == {
            i: f"{i}\n" for i in range(8)
        }
