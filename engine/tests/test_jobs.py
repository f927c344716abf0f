import pytest
from job_cases import JobCases, ended, supervise, token

from engine import ssh
from engine.executor import RunSpec
from engine.local import LocalExecutor


class TestLocalJobs(JobCases):
    @pytest.fixture
    def executor(self):
        return LocalExecutor()

    @pytest.fixture
    def jobs_dir(self, tmp_path):
        return str(tmp_path / "jobs")


class TestSSHJobs(JobCases):
    @pytest.fixture
    def executor(self, target):
        return ssh.SSHExecutor(target)

    @pytest.fixture
    def jobs_dir(self, tmp_path):
        return str(tmp_path / "remote-jobs")  # the test sshd's user is this one

    def test_default_folder_is_in_the_remote_home(self, executor):
        job = executor.start_job(RunSpec(["sh", "-c", "echo home"], token=token()))
        assert not job.path.startswith("/")
        results, _left = supervise({"a": (job, None)})
        assert results["a"][1].text("stdout") == "home\n"
        job.cleanup()
        assert ended(executor.attach_job(job.token)).missing
