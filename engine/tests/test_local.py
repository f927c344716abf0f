import os
import signal
import subprocess
import time

import psutil
import pytest
from executor_cases import ExecutorCases, gone, read_pids

from engine.executor import RunSpec, script_argv
from engine.local import LocalExecutor, process_alive
from engine.output import Capture


class TestLocal(ExecutorCases):
    start_errors_raise = True
    large_output_mb = 100

    @pytest.fixture
    def executor(self):
        return LocalExecutor()

    def test_setsid_grandchild_killed(self, executor, tmp_path):
        """A child that left the process group is still found (psutil) and stopped."""
        pids = tmp_path / "pids"
        script = f"setsid sleep 60 & echo $! > {pids}; wait"
        result = executor.run(RunSpec(script_argv(script), timeout=0.5), Capture())
        assert result.timed_out
        assert gone(read_pids(pids, 1)[0])

    def test_base_environment(self):
        executor = LocalExecutor(base_env={"PATH": os.environ["PATH"], "ONLY": "this"})
        capture = Capture()
        assert executor.run(RunSpec(["env"]), capture).ok
        assert "ONLY=this" in capture.text()
        assert "HOME=" not in capture.text()


def test_process_alive():
    proc = subprocess.Popen(["sleep", "5"])
    try:
        created = psutil.Process(proc.pid).create_time()
        assert process_alive(proc.pid, created)
        assert not process_alive(proc.pid, created - 100)  # another process with this pid
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    time.sleep(0.01)
    assert not process_alive(proc.pid, created)
