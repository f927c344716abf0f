"""Run commands on another machine over SSH (paramiko).

Safety:
- The server's host key is pinned per machine: a connection with no pinned key is refused
  with :class:`HostKeyUnknown`, which carries the offered key and its fingerprint for a
  manager to accept; a different key is refused with :class:`HostKeyMismatch`.  Nothing is
  ever auto-accepted and no known_hosts file is read or written.
- Keys and passwords stay in memory: they are never written to disk, argv or a log.
- The remote command line is built from fixed text with every value quoted by
  ``shlex.quote`` and passed as a positional parameter of ``/bin/sh -c`` (the login shell of
  the remote user must be a POSIX shell).

Process control: sshd starts every session in a new session (setsid), so the remote command,
exec'ed by the login shell, leads its own process group.  It first prints its pid on a marker
line (stripped from the output); timeout and cancel signal that whole group with
``kill -TERM -PGID`` over a second channel of the same connection.  The
exit status is exact: paramiko ignores the SSH "exit-signal" message, so the transport used
here handles it (RFC 4254, 6.10) and the run reports the signal.

Connections are pooled per process and per machine (host, port, user, host key, secrets),
kept alive, and reopened when they drop.
"""

import base64
import binascii
import contextlib
import dataclasses
import hashlib
import io
import select
import shlex
import signal
import socket
import threading
import time

import paramiko

from . import jobs, validation
from .executor import ExecError, Executor, RunSpec, check_file_target, kill_marked_argv
from .output import STDERR, STDOUT, Capture

PID_MARKER = b"\x1eDEVOPS-PID "
HEAD = TAIL = 64 * 1024  # what a job follower reads of each stream (Capture's defaults)
KEEPALIVE = 15
CHUNK = 256 * 1024


class SSHError(ExecError):
    """A connection problem; ``str()`` says what happened and what to do."""


class HostUnreachable(SSHError):
    pass


class ConnectionRefused(SSHError):
    pass


class ConnectTimeout(SSHError):
    pass


class AuthFailed(SSHError):
    pass


class HostKeyMismatch(SSHError):
    pass


class HostKeyUnknown(SSHError):
    """No key is pinned for this machine; ``key_line`` is what the server offered."""

    def __init__(self, message, offered_line, offered_fingerprint):
        super().__init__(message)
        self.key_line = offered_line
        self.fingerprint = offered_fingerprint


# --- Host keys -------------------------------------------------------------------


def parse_host_key(line):
    """A paramiko key from an OpenSSH public key line ("ssh-ed25519 AAAA… [comment]")."""
    parts = (line or "").strip().split()
    if len(parts) >= 3 and not parts[0].startswith(("ssh-", "ecdsa-")):
        parts = parts[1:]  # a known_hosts line: "host type key"
    if len(parts) < 2:
        raise ValueError("A host key reads 'TYPE BASE64', such as 'ssh-ed25519 AAAAC3Nz…'.")
    try:
        data = base64.b64decode(parts[1], validate=True)
        return paramiko.PKey.from_type_string(parts[0], data)
    except (binascii.Error, paramiko.SSHException, ValueError) as error:
        raise ValueError(f"This is not a valid {parts[0]} public key.") from error


def key_line(key):
    return f"{key.get_name()} {key.get_base64()}"


def fingerprint(key):
    return key.fingerprint


def load_private_key(text, passphrase=None):
    """A paramiko private key from its OpenSSH/PEM text (ed25519, ecdsa or rsa)."""
    for key_class in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return key_class.from_private_key(io.StringIO(text), password=passphrase or None)
        except paramiko.PasswordRequiredException as error:
            raise AuthFailed(
                "The private key is encrypted: set its passphrase in the password field."
            ) from error
        except (paramiko.SSHException, ValueError):
            continue
    raise AuthFailed("The private key cannot be read: paste an OpenSSH or PEM private key.")


# --- Transport that reports exit signals -------------------------------------------


def _handle_channel_request(chan, m):
    start = m.packet.tell()
    if m.get_text() == "exit-signal":
        m.get_boolean()  # want_reply
        chan.exit_signal = m.get_text()
        chan.exit_status = -1
        chan.status_event.set()
        return
    m.packet.seek(start)
    paramiko.Channel._handle_request(chan, m)


class _Transport(paramiko.Transport):
    _channel_handler_table = {
        **paramiko.Transport._channel_handler_table,
        paramiko.common.MSG_CHANNEL_REQUEST: _handle_channel_request,
    }


# --- Connections ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SSHTarget:
    host: str
    port: int = 22
    user: str = ""
    host_key: str = ""
    private_key: str = dataclasses.field(default="", repr=False)
    password: str = dataclasses.field(default="", repr=False)
    connect_timeout: float = 10.0

    @property
    def label(self):
        return f"{self.user + '@' if self.user else ''}{self.host}:{self.port}"

    def pool_key(self):
        secret = hashlib.sha256(f"{self.private_key}\0{self.password}".encode()).hexdigest()
        return (self.host, self.port, self.user, self.host_key.strip(), secret)


class _RefuseUnknown(paramiko.MissingHostKeyPolicy):
    def missing_host_key(self, client, hostname, key):
        raise HostKeyUnknown(
            f"The host key of {hostname} is not trusted yet: its fingerprint is "
            f"{fingerprint(key)}. Check it on the server (ssh-keygen -lf on its host keys) "
            "and accept it on the machine's form.",
            key_line(key),
            fingerprint(key),
        )


def connect(target):
    """A connected paramiko.SSHClient; raises a precise SSHError."""
    for problem in (
        validation.check_host(target.host),
        validation.check_port(target.port),
        validation.check_user_name(target.user),
    ):
        if problem:
            raise SSHError(str(problem))
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(_RefuseUnknown())
    if target.host_key.strip():
        try:
            pinned = parse_host_key(target.host_key)
        except ValueError as error:
            raise SSHError(f"The pinned host key is invalid: {error}") from error
        name = target.host if target.port == 22 else f"[{target.host}]:{target.port}"
        client.get_host_keys().add(name, pinned.get_name(), pinned)
    pkey = load_private_key(target.private_key, target.password) if target.private_key else None
    try:
        client.connect(
            target.host,
            port=target.port,
            username=target.user or None,
            pkey=pkey,
            password=(target.password or None) if not pkey else None,
            timeout=target.connect_timeout,
            banner_timeout=target.connect_timeout,
            auth_timeout=target.connect_timeout,
            allow_agent=False,
            look_for_keys=False,
            transport_factory=_Transport,
        )
    except HostKeyUnknown:
        client.close()
        raise
    except paramiko.BadHostKeyException as error:
        client.close()
        raise HostKeyMismatch(
            f"The host key of {target.host} changed: it offered {fingerprint(error.key)}, "
            f"the pinned key is {fingerprint(error.expected_key)}. This may be an attack. "
            "If the server was reinstalled, a manager can clear the pinned key and test the "
            "connection again."
        ) from error
    except paramiko.AuthenticationException as error:
        client.close()
        raise AuthFailed(
            f"{target.label} refused the login of '{target.user}': check the user, the key "
            "or the password, and that the public key is in the server's authorized_keys."
        ) from error
    except socket.gaierror as error:
        client.close()
        raise HostUnreachable(
            f"The host name {target.host} cannot be resolved: check its spelling or DNS."
        ) from error
    except paramiko.ssh_exception.NoValidConnectionsError as error:
        client.close()
        raise ConnectionRefused(
            f"{target.host} refused the connection on port {target.port}: is the SSH server "
            "running, and is the port right?"
        ) from error
    except TimeoutError as error:
        client.close()
        raise ConnectTimeout(
            f"No answer from {target.host}:{target.port} within {target.connect_timeout:g} s: "
            "check the host, the port and the firewall."
        ) from error
    except OSError as error:
        client.close()
        raise HostUnreachable(f"Cannot reach {target.label}: {error.strerror or error}") from error
    except paramiko.SSHException as error:
        transport = client.get_transport()
        answered = transport is not None and transport.remote_version
        client.close()
        if not answered:  # connected, but no SSH banner came back in time
            raise ConnectTimeout(
                f"No answer from {target.host}:{target.port} within {target.connect_timeout:g} s: "
                "is it an SSH server? Check the host, the port and the firewall."
            ) from error
        raise SSHError(f"SSH failed with {target.label}: {error}") from error
    transport = client.get_transport()
    transport.set_keepalive(KEEPALIVE)
    # Small request/response packets: without this, Nagle's algorithm and delayed ACKs add
    # ~40 ms to every new channel.
    transport.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return client


class _Pool:
    """One live connection per target within this process."""

    def __init__(self):
        self.lock = threading.Lock()
        self.clients = {}

    def get(self, target):
        key = target.pool_key()
        with self.lock:
            client = self.clients.get(key)
            if client is not None and client.get_transport() is not None:
                if client.get_transport().is_active():
                    return client
            if client is not None:
                client.close()
            client = connect(target)
            self.clients[key] = client
            return client

    def drop(self, target):
        with self.lock:
            client = self.clients.pop(target.pool_key(), None)
        if client is not None:
            client.close()

    def close_all(self):
        with self.lock:
            clients, self.clients = list(self.clients.values()), {}
        for client in clients:
            client.close()


POOL = _Pool()


# --- Executor ------------------------------------------------------------------------


def run_quick(client, command, timeout=5):
    """Run a short fixed command on a new channel of ``client``; its result is not read."""
    with contextlib.suppress(paramiko.SSHException, OSError, EOFError):
        channel = client.get_transport().open_session(timeout=timeout)
        channel.exec_command(command)
        deadline = time.monotonic() + timeout
        while not channel.exit_status_ready() and time.monotonic() < deadline:
            time.sleep(0.02)
        channel.close()


def remote_command(spec):
    """The command line sent to the remote login shell: fixed text, every value quoted."""
    lines = ["printf '\\036DEVOPS-PID %s\\n' \"$$\""]
    values = []
    if spec.cwd is not None:
        lines.append('cd -- "$1" || exit 126')
        lines.append("shift")
        values.append(spec.cwd)
    for name, value in spec.environment().items():  # checked identifiers (RunSpec.check)
        lines.append(f'export {name}="$1"')
        lines.append("shift")
        values.append(str(value))
    lines.append('exec "$@"')
    argv = ["/bin/sh", "-c", "\n".join(lines), "devops-exec", *values, *spec.argv]
    return "exec " + shlex.join(argv)


# $1 path, $2 octal mode; the content comes on stdin (never in a command line).
_WRITE_FILE = r"""
umask 077
mkdir -p -- "$(dirname -- "$1")" || exit 1
t=$1.devops-tmp
rm -f -- "$t" && cat > "$t" && chmod "$2" "$t" && mv -f -- "$t" "$1"
"""


class _Handle:
    def __init__(self, client, channel, token=None):
        self.client = client
        self.channel = channel
        self.token = token
        self.pid = None
        self.head = b""  # stdout until the pid marker line is complete


class SSHExecutor(Executor):
    def __init__(self, target):
        self.target = target

    # --- Detached jobs (engine.jobs) --------------------------------------------------

    def start_job(self, spec, jobs_dir=None):
        spec.check()
        if not spec.token:
            raise ExecError("A detached job needs a token.")
        path = jobs.job_path(jobs_dir or jobs.REMOTE_JOBS_DIR, spec.token)
        launch = RunSpec(
            ["/bin/sh", "-c", jobs.LAUNCH, "devops-launch", path, *spec.argv],
            cwd=spec.cwd,
            env=spec.env,
            timeout=30,
            token=spec.token,
        )
        capture = Capture()
        result = self.run(launch, capture)
        if not result.ok:
            message = capture.text(STDERR).strip() or f"exit status {result.exit_code}"
            raise ExecError(f"Could not start the command on {self.target.label}: {message}")
        job = self._job(spec.token, path)
        job.pid = int(capture.text(STDOUT).split()[-1])
        job.follow()
        return job

    def write_file(self, path, data, mode=0o600):
        check_file_target(path, mode)
        argv = ["/bin/sh", "-c", _WRITE_FILE, "devops-write", path, f"{mode:o}"]
        channel = self._open_channel(shlex.join(argv))
        try:
            channel.sendall(data)
            channel.shutdown_write()
            errors = b""
            deadline = time.monotonic() + max(self.target.connect_timeout, 30)
            while not channel.exit_status_ready():
                if channel.recv_stderr_ready():
                    errors += channel.recv_stderr(CHUNK)
                if time.monotonic() > deadline:
                    raise ExecError(f"Writing {path} on {self.target.label} timed out.")
                time.sleep(0.01)
            while channel.recv_stderr_ready():
                errors += channel.recv_stderr(CHUNK)
            status = channel.recv_exit_status()
        except (paramiko.SSHException, OSError, EOFError) as error:
            raise SSHError(f"Writing {path} on {self.target.label} failed: {error}") from error
        finally:
            channel.close()
        if status != 0:
            message = errors.decode("utf-8", "replace").strip() or f"exit status {status}"
            raise ExecError(f"Could not write {path} on {self.target.label}: {message}")

    def attach_job(self, token, jobs_dir=None):
        job = self._job(token, jobs.job_path(jobs_dir or jobs.REMOTE_JOBS_DIR, token))
        job.follow()
        return job

    def _job(self, token, path):
        return jobs.SSHJob(token, path, self._open_channel, self._quick, HEAD, TAIL)

    def _quick(self, command):
        with contextlib.suppress(ExecError):
            run_quick(POOL.get(self.target), command)

    def _open_channel(self, command):
        try:
            client = POOL.get(self.target)
            channel = client.get_transport().open_session(timeout=self.target.connect_timeout)
            channel.exec_command(command)
        except (paramiko.SSHException, EOFError, OSError) as error:
            POOL.drop(self.target)
            raise SSHError(f"The connection to {self.target.label} was lost: {error}") from error
        return channel

    def _start(self, spec):
        client = POOL.get(self.target)
        try:
            channel = client.get_transport().open_session(timeout=self.target.connect_timeout)
        except (paramiko.SSHException, EOFError, OSError):
            # The pooled connection died under us: reconnect once (nothing ran yet).
            POOL.drop(self.target)
            client = POOL.get(self.target)
            channel = client.get_transport().open_session(timeout=self.target.connect_timeout)
        channel.exit_signal = None
        channel.exec_command(remote_command(spec))
        return _Handle(client, channel, spec.token)

    def _pump(self, handle, capture, timeout):
        channel = handle.channel
        if not (channel.recv_ready() or channel.recv_stderr_ready()):
            if not (channel.exit_status_ready() and channel.eof_received):
                select.select([channel], [], [], timeout)
        while channel.recv_ready():
            self._stdout(handle, capture, channel.recv(CHUNK))
        while channel.recv_stderr_ready():
            capture.write(STDERR, channel.recv_stderr(CHUNK))
        transport = handle.client.get_transport()
        if not channel.exit_status_ready() and (transport is None or not transport.is_active()):
            POOL.drop(self.target)
            raise SSHError(f"The connection to {self.target.label} was lost during the run.")
        done = (
            channel.exit_status_ready()
            and channel.eof_received
            and not channel.recv_ready()
            and not channel.recv_stderr_ready()
        )
        if done and handle.head:
            capture.write(STDOUT, handle.head)  # output shorter than a line, no pid marker
            handle.head = b""
        return done

    def _stdout(self, handle, capture, data):
        if handle.pid is None:
            handle.head += data
            if b"\n" not in handle.head and len(handle.head) < 64:
                return
            line, _, rest = handle.head.partition(b"\n")
            handle.head = b""
            if line.startswith(PID_MARKER):
                with contextlib.suppress(ValueError):
                    handle.pid = int(line[len(PID_MARKER) :])
                data = rest
            else:
                handle.pid = 0
                data = line + b"\n" + rest
        capture.write(STDOUT, data)

    def _kill(self, handle, sig):
        name = signal.Signals(sig).name.removeprefix("SIG")
        commands = []
        if handle.pid:
            # "kill -SIG -PGID": the form every POSIX login shell takes (dash refuses "--").
            commands.append(f"kill -{name} -{int(handle.pid)} 2>/dev/null")
        else:
            handle.channel.close()
        if handle.token:  # what left the process group (setsid, double fork)
            commands.append(shlex.join(kill_marked_argv(handle.token, sig)))
        if commands:
            run_quick(handle.client, "; ".join(commands))

    def _status(self, handle):
        channel = handle.channel
        if channel.exit_signal:
            try:
                return None, int(signal.Signals["SIG" + channel.exit_signal])
            except KeyError:
                return None, None
        code = channel.recv_exit_status()
        return (code, None) if code >= 0 else (None, None)

    def _close(self, handle):
        handle.channel.close()
