# pylint: disable=redefined-outer-name
# (pytest fixtures are passed by the name of the function that makes them)
import os

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
