import socket
import threading

import pytest
from executor_cases import ExecutorCases

from engine import ssh
from engine.executor import RunSpec
from engine.output import STDOUT, Capture
from engine.testing import keygen


class TestSSH(ExecutorCases):
    start_errors_raise = False  # a missing directory or program is the remote shell's exit code
    large_output_mb = 20

    @pytest.fixture
    def executor(self, target):
        return ssh.SSHExecutor(target)

    def test_connection_reused(self, target):
        first = ssh.POOL.get(target)
        assert ssh.POOL.get(target) is first
        result = ssh.SSHExecutor(target).run(RunSpec(["true"]), Capture())
        assert result.ok
        assert ssh.POOL.get(target) is first

    def test_reconnects_after_drop(self, target):
        client = ssh.POOL.get(target)
        client.get_transport().close()
        capture = Capture()
        assert ssh.SSHExecutor(target).run(RunSpec(["echo", "back"]), capture).ok
        assert capture.text() == "back\n"
        assert ssh.POOL.get(target) is not client

    def test_parallel_runs_share_a_connection(self, target):
        results = []

        def work(i):
            capture = Capture()
            result = ssh.SSHExecutor(target).run(RunSpec(["echo", str(i)]), capture)
            results.append((result.exit_code, capture.text().strip()))

        threads = [threading.Thread(target=work, args=(i,)) for i in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(results) == [(0, str(i)) for i in sorted(range(10), key=str)]

    @pytest.mark.parametrize("key_type", ["ed25519", "ecdsa", "rsa"])
    def test_key_types(self, sshd, key_type):
        target = ssh.SSHTarget(
            sshd.host, sshd.port, sshd.user, sshd.host_key, sshd.client_key[key_type]
        )
        capture = Capture()
        assert ssh.SSHExecutor(target).run(RunSpec(["echo", key_type]), capture).ok
        assert capture.text(STDOUT) == f"{key_type}\n"


class TestConnectionErrors:
    def test_unknown_host_key_shows_fingerprint(self, sshd):
        target = ssh.SSHTarget(sshd.host, sshd.port, sshd.user, "", sshd.client_key["ed25519"])
        with pytest.raises(ssh.HostKeyUnknown) as caught:
            ssh.connect(target)
        expected = sshd.host_fingerprint()
        assert caught.value.fingerprint == expected
        assert expected in str(caught.value)
        assert caught.value.key_line == sshd.host_key
        # Accepting the offered key lets the next connection through.
        accepted = ssh.SSHTarget(
            sshd.host, sshd.port, sshd.user, caught.value.key_line, sshd.client_key["ed25519"]
        )
        ssh.connect(accepted).close()

    def test_host_key_mismatch_refused(self, sshd, tmp_path):
        _private, other = keygen(str(tmp_path / "other"), "ed25519")
        target = ssh.SSHTarget(sshd.host, sshd.port, sshd.user, other, sshd.client_key["ed25519"])
        with pytest.raises(ssh.HostKeyMismatch) as caught:
            ssh.connect(target)
        assert "changed" in str(caught.value)

    def test_wrong_key_refused(self, sshd, tmp_path):
        private, _public = keygen(str(tmp_path / "stranger"), "ed25519")
        target = ssh.SSHTarget(sshd.host, sshd.port, sshd.user, sshd.host_key, private)
        with pytest.raises(ssh.AuthFailed) as caught:
            ssh.connect(target)
        assert "refused the login" in str(caught.value)

    def test_wrong_password_refused(self, sshd):
        target = ssh.SSHTarget(
            sshd.host, sshd.port, sshd.user, sshd.host_key, password="not-the-password"
        )
        with pytest.raises(ssh.AuthFailed):
            ssh.connect(target)

    def test_unreadable_private_key(self, sshd):
        target = ssh.SSHTarget(sshd.host, sshd.port, sshd.user, sshd.host_key, "not a key")
        with pytest.raises(ssh.AuthFailed) as caught:
            ssh.connect(target)
        assert "cannot be read" in str(caught.value)

    def test_refused(self):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        with pytest.raises(ssh.ConnectionRefused) as caught:
            ssh.connect(ssh.SSHTarget("127.0.0.1", port, "x", "", password="x"))
        assert "refused the connection" in str(caught.value)

    def test_silent_server_times_out(self):
        with socket.socket() as server:
            server.bind(("127.0.0.1", 0))
            server.listen()
            port = server.getsockname()[1]
            target = ssh.SSHTarget("127.0.0.1", port, "x", "", password="x", connect_timeout=0.5)
            with pytest.raises(ssh.ConnectTimeout) as caught:
                ssh.connect(target)
        assert "No answer" in str(caught.value)

    def test_unknown_host(self):
        target = ssh.SSHTarget("devops-no-such-host.invalid", 22, "x", "", password="x")
        with pytest.raises(ssh.HostUnreachable) as caught:
            ssh.connect(target)
        assert "cannot be resolved" in str(caught.value)

    def test_hostile_target_refused_before_connecting(self):
        for host in ("-oProxyCommand=touch /tmp/PWNED", "a;b", "$(id)"):
            with pytest.raises(ssh.SSHError):
                ssh.connect(ssh.SSHTarget(host, 22, "x", "", password="x"))

    def test_invalid_pinned_key(self, sshd):
        target = ssh.SSHTarget(sshd.host, sshd.port, sshd.user, "ssh-ed25519 !!!", "x")
        with pytest.raises(ssh.SSHError) as caught:
            ssh.connect(target)
        assert "pinned host key is invalid" in str(caught.value)


def test_parse_host_key_forms(sshd):
    key = ssh.parse_host_key(sshd.host_key)
    assert ssh.key_line(key) == sshd.host_key
    assert ssh.parse_host_key(f"[127.0.0.1]:2222 {sshd.host_key}").get_base64() == key.get_base64()
    assert ssh.parse_host_key(sshd.host_key + " comment@host").get_name() == "ssh-ed25519"
    for bad in ("", "ssh-ed25519", "ssh-ed25519 not-base64!", "ssh-rsa AAAA"):
        with pytest.raises(ValueError):
            ssh.parse_host_key(bad)


def test_remote_command_quotes_everything():
    spec = RunSpec(["printf", "%s", "$(id)"], cwd="/tmp/a b", env={"X": "`y`"})
    command = ssh.remote_command(spec)
    assert command.startswith("exec /bin/sh -c ")
    assert "'$(id)'" in command
    assert "'/tmp/a b'" in command
    assert "'`y`'" in command
