# pylint: disable=redefined-outer-name
# (pytest fixtures are passed by the name of the function that makes them)
import os
import subprocess

import pytest

from engine import ssh
from engine.testing import MissingTool, TestSSHServer, write_health_server


@pytest.fixture(scope="session")
def sshd():
    """A real OpenSSH server on 127.0.0.1 with throwaway keys (fails, never skips, in CI)."""
    try:
        server = TestSSHServer()
    except MissingTool as error:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(str(error))
    with server:
        yield server
    ssh.POOL.close_all()


@pytest.fixture
def target(sshd):
    return ssh.SSHTarget(
        host=sshd.host,
        port=sshd.port,
        user=sshd.user,
        host_key=sshd.host_key,
        private_key=sshd.client_key["ed25519"],
    )


@pytest.fixture
def server_dir(tmp_path):
    """A directory holding the tests' small HTTP service (engine.testing.HEALTH_SERVER)."""
    write_health_server(str(tmp_path))
    return tmp_path


GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


@pytest.fixture
def repos(tmp_path):
    """A bare remote and a clone of it, with one commit pushed (real git)."""
    remote, clone = tmp_path / "remote.git", tmp_path / "clone"
    env = {**os.environ, **GIT_IDENTITY}

    def git(*args, cwd=None):
        subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)

    git("init", "-q", "--bare", "-b", "main", str(remote))
    git("clone", "-q", str(remote), str(clone))
    (clone / "app.py").write_text("print('hello')  # TODO: say more\n")
    git("add", "app.py", cwd=clone)
    git("commit", "-q", "-m", "first", cwd=clone)
    git("push", "-q", "-u", "origin", "main", cwd=clone)
    return remote, clone
