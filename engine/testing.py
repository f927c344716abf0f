"""Real test parts shared by the engine's pytest suite and the Odoo tests.

:class:`TestSSHServer` starts Debian's OpenSSH server on 127.0.0.1 on a free port, with
throwaway host keys and a throwaway client key, for the user running the tests.  Nothing
here is mocked; nothing outside its temporary directory is touched.
"""

import getpass
import os
import shutil
import socket
import subprocess
import tempfile
import time

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
SSH_KEYGEN = shutil.which("ssh-keygen") or "/usr/bin/ssh-keygen"


class MissingTool(RuntimeError):
    pass


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def keygen(path, key_type="ed25519"):
    """Write a new key pair at ``path`` / ``path.pub``; returns (private text, public line)."""
    subprocess.run(  # noqa: S603
        [SSH_KEYGEN, "-q", "-t", key_type, "-N", "", "-C", "devops-test", "-f", path],
        check=True,
        stdin=subprocess.DEVNULL,
    )
    with open(path, encoding="ascii") as private, open(path + ".pub", encoding="ascii") as public:
        return private.read(), " ".join(public.read().split()[:2])


class TestSSHServer:
    """An sshd on 127.0.0.1; use as a context manager or call start()/stop()."""

    __test__ = False  # not a pytest test class

    def __init__(self, host_key_type="ed25519"):
        if not (os.path.exists(SSHD) and os.path.exists(SSH_KEYGEN)):
            raise MissingTool("OpenSSH server not found: apt-get install openssh-server")
        self.host_key_type = host_key_type
        self.dir = tempfile.mkdtemp(prefix="devops-sshd-")
        self.host = "127.0.0.1"
        self.port = free_port()
        self.user = getpass.getuser()
        self.proc = None
        self.host_private, self.host_key = keygen(os.path.join(self.dir, "host_key"), host_key_type)
        self.client_key, self.client_public = {}, {}
        for key_type in ("ed25519", "ecdsa", "rsa"):
            private, public = keygen(os.path.join(self.dir, f"client_{key_type}"), key_type)
            self.client_key[key_type], self.client_public[key_type] = private, public
        with open(os.path.join(self.dir, "authorized_keys"), "w", encoding="ascii") as keys:
            keys.write("\n".join(self.client_public.values()) + "\n")
        os.chmod(os.path.join(self.dir, "authorized_keys"), 0o644)
        self.config = os.path.join(self.dir, "sshd_config")
        with open(self.config, "w", encoding="ascii") as config:
            config.write(
                f"Port {self.port}\n"
                f"ListenAddress {self.host}\n"
                f"HostKey {self.dir}/host_key\n"
                f"PidFile {self.dir}/sshd.pid\n"
                f"AuthorizedKeysFile {self.dir}/authorized_keys\n"
                "PasswordAuthentication yes\n"
                "KbdInteractiveAuthentication no\n"
                "PermitRootLogin yes\n"
                "StrictModes no\n"
                "UsePAM no\n"
                "MaxSessions 100\n"
                "MaxStartups 100\n"
                "LogLevel ERROR\n"
                "Subsystem sftp internal-sftp\n"
            )

    @property
    def client_key_path(self):
        return os.path.join(self.dir, "client_ed25519")

    def start(self):
        if os.geteuid() == 0:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege separation dir
        self.proc = subprocess.Popen(  # noqa: S603
            [SSHD, "-D", "-e", "-f", self.config],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.dir, "sshd.log"), "wb"),
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("sshd exited: " + self.log())
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5) as sock:
                    if sock.recv(4).startswith(b"SSH-"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("sshd did not answer: " + self.log())

    def host_fingerprint(self):
        """The host key's fingerprint as OpenSSH prints it (ssh-keygen -lf)."""
        listing = subprocess.run(  # noqa: S603
            [SSH_KEYGEN, "-lf", os.path.join(self.dir, "host_key.pub")],
            capture_output=True,
            text=True,
            check=True,
        )
        return listing.stdout.split()[1]

    def log(self):
        with open(os.path.join(self.dir, "sshd.log"), encoding="utf-8", errors="replace") as log:
            return log.read()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


HEALTH_SERVER = r'''
"""A small HTTP service for the tests: /web/health answers 200, or 503 while a file named
"unhealthy" exists in its working directory."""
import http.server
import json
import os
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/web/health":
            self.send_error(404)
            return
        healthy = not os.path.exists("unhealthy")
        body = json.dumps({"status": "pass" if healthy else "fail"}).encode()
        self.send_response(200 if healthy else 503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        sys.stderr.write("%s %s\n" % (self.log_date_time_string(), format % args))
        sys.stderr.flush()


server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
print("listening on port", sys.argv[1], flush=True)
server.serve_forever()
'''


def write_health_server(directory):
    """Write the test HTTP service into ``directory``; returns its file name."""
    with open(os.path.join(directory, "health_server.py"), "w", encoding="utf-8") as script:
        script.write(HEALTH_SERVER)
    return "health_server.py"


def build_test_image(directory, tag="erplibre-devops-test-httpd:latest"):
    """Build, with the docker SDK, an image FROM scratch holding Debian's static busybox,
    whose httpd serves /web/health on port 8080 (no registry needed)."""
    import docker  # noqa: PLC0415 - only the docker tests need it

    context = os.path.join(directory, "image")
    os.makedirs(os.path.join(context, "www", "web"), exist_ok=True)
    busybox = shutil.which("busybox") or "/bin/busybox"
    if not os.path.exists(busybox):
        raise MissingTool("busybox not found: apt-get install busybox-static")
    shutil.copy(busybox, os.path.join(context, "busybox"))
    with open(os.path.join(context, "www", "web", "health"), "w", encoding="ascii") as health:
        health.write('{"status": "pass"}\n')
    with open(os.path.join(context, "Dockerfile"), "w", encoding="ascii") as dockerfile:
        dockerfile.write(
            "FROM scratch\n"
            "COPY busybox /bin/busybox\n"
            "COPY www /www\n"
            'ENTRYPOINT ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]\n'
        )
    client = docker.from_env(timeout=60)
    try:
        client.images.build(path=context, tag=tag, rm=True)
    finally:
        client.close()
    return tag
