import http.server
import os
import signal
import socket
import subprocess
import threading
import time

from engine import observe, probe, service
from engine.executor import RunSpec
from engine.local import LocalExecutor
from engine.output import Capture
from engine.testing import free_port


def run(argv, cwd=None):
    capture = Capture()
    result = LocalExecutor().run(RunSpec(argv, cwd=cwd, timeout=30), capture)
    return result, capture


def test_expand_quotes_the_database():
    command = service.expand("odoo --http-port {port} -d {database}", 8069, "db; rm -rf /")
    assert command == "odoo --http-port 8069 -d 'db; rm -rf /'"


def test_names_checked():
    assert service.check_database("prod_18.0-a") is None
    assert service.check_database("-bad") and service.check_database("a b")
    assert service.check_image("odoo:18.0") is None
    assert service.check_image("registry.example.com/x/y@sha256:abc") is None
    assert service.check_image("--privileged") and service.check_image("")


def test_start_status_stop_a_real_service(server_dir):
    port = free_port()
    pid_file, log_file = service.paths(str(server_dir), 7)
    command = service.expand("python3 -u health_server.py {port}", port, None)
    result, capture = run(service.process_start_argv(command, log_file, pid_file), str(server_dir))
    assert result.ok, capture.text()
    assert capture.text().startswith("started, pid")
    deadline = time.monotonic() + 10
    while not probe.port_open("127.0.0.1", port) and time.monotonic() < deadline:
        time.sleep(0.05)
    found = probe.probe("127.0.0.1", port, f"http://127.0.0.1:{port}/web/health")
    assert found.healthy and found.latency_ms > 0
    alive, pid, rss, _cpu = probe.local_process(pid_file)
    assert alive and pid and rss > 1
    result, capture = run(service.status_argv([pid_file, "/nonexistent.pid"]))
    procs, machine = service.parse_status(capture.text())
    assert procs[pid_file][:2] == (True, pid)
    assert procs["/nonexistent.pid"][0] is False
    assert machine["disk"] > 0
    result, capture = run(service.process_stop_argv(pid_file))
    assert result.ok and f"stopped, pid {pid}" in capture.text()
    assert not probe.port_open("127.0.0.1", port)
    assert not os.path.exists(pid_file)
    assert probe.local_process(pid_file)[0] is False


def test_the_service_is_its_process_group(server_dir):
    """The shell that ran the command killed, the server it started still answers: the
    service is alive (here and by the status script), and Stop ends it."""
    port = free_port()
    pid_file, log_file = service.paths(str(server_dir), 9)
    command = service.expand("python3 -u health_server.py {port} & wait", port, None)
    result, capture = run(service.process_start_argv(command, log_file, pid_file), str(server_dir))
    assert result.ok, capture.text()
    deadline = time.monotonic() + 10
    while not probe.port_open("127.0.0.1", port) and time.monotonic() < deadline:
        time.sleep(0.05)
    alive, leader, rss, _cpu = probe.local_process(pid_file)
    assert alive and rss > 1
    os.kill(leader, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while os.path.exists(f"/proc/{leader}") and time.monotonic() < deadline:
        time.sleep(0.05)  # reaped by init
    assert probe.probe("127.0.0.1", port, f"http://127.0.0.1:{port}/web/health").healthy
    alive, pid, rss, _cpu = probe.local_process(pid_file)
    assert (alive, pid) == (True, leader) and rss > 1
    _result, capture = run(service.status_argv([pid_file]))
    procs, _machine = service.parse_status(capture.text())
    assert procs[pid_file][:2] == (True, leader) and procs[pid_file][2] > 1
    result, capture = run(service.process_stop_argv(pid_file))
    assert result.ok, capture.text()
    assert not probe.port_open("127.0.0.1", port)
    assert probe.local_process(pid_file)[0] is False


def test_cpu_is_measured_between_two_checks(server_dir):
    pid_file, log_file = service.paths(str(server_dir), 10)
    busy = "python3 -c 'while True: pass'"
    result, capture = run(service.process_start_argv(busy, log_file, pid_file), str(server_dir))
    assert result.ok, capture.text()
    try:
        probe.local_process(pid_file)
        time.sleep(0.5)
        alive, _pid, _rss, cpu = probe.local_process(pid_file)
        assert alive and cpu > 20
    finally:
        run(service.process_stop_argv(pid_file))


def test_start_fails_clearly_when_the_service_dies(server_dir):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        pid_file, log_file = service.paths(str(server_dir), 8)
        command = service.expand("python3 -u health_server.py {port}", port, None)
        result, capture = run(
            service.process_start_argv(command, log_file, pid_file), str(server_dir)
        )
    assert result.exit_code == 1
    assert "stopped at once" in capture.text()
    assert "Address already in use" in capture.text()


def test_probe_statuses():
    assert probe.http_get("ftp://x/")[2].startswith("Not an http")
    port = free_port()
    assert probe.probe("127.0.0.1", port, f"http://127.0.0.1:{port}/").error.startswith("Nothing")

    class Slow(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/slow":
                time.sleep(2)
            self.send_response(503 if self.path == "/bad" else 200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        assert probe.http_get(base + "/")[0] == 200
        status, _latency, error = probe.http_get(base + "/bad")
        assert status == 503 and error == f"{base}/bad answered HTTP 503 Service Unavailable"
        found = probe.probe("127.0.0.1", server.server_port, None)
        assert found.port_open and found.latency_ms > 0 and not found.error
        status, latency, error = probe.http_get(base + "/slow", timeout=0.3)
        assert status == 0 and "No answer" in error and latency < 1500
    finally:
        server.shutdown()


def test_probe_many_is_concurrent():
    """100 services that each take 0.3 s answer in far less than 100 x 0.3 s."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            time.sleep(0.3)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    class Server(http.server.ThreadingHTTPServer):
        request_queue_size = 256  # all the probes connect at once

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_port
        targets = dict.fromkeys(
            range(100), ("127.0.0.1", port, f"http://127.0.0.1:{port}/web/health")
        )
        start = time.monotonic()
        results = probe.probe_many(targets, timeout=5)
        elapsed = time.monotonic() - start
        assert all(result.healthy for result in results.values())
        assert elapsed < 10  # sequential: 30 s
    finally:
        server.shutdown()


def test_probe_never_raises():
    for url in ("http://127.0.0.1:99999/", "http://h:abc/", "http://[::1", "http://x/\x00"):
        result = probe.probe("127.0.0.1", 1, url, timeout=0.5)
        assert not result.healthy
        result = probe.probe("127.0.0.1", 22, url, timeout=0.5)
        assert not result.healthy


def test_state_folder_is_ignored_by_git(server_dir):
    """Starting a service from a checkout keeps .devops/ out of its untracked files."""
    subprocess.run(["git", "init", "-q", str(server_dir)], check=True)
    pid_file, log_file = service.paths(str(server_dir), 1)
    executor = LocalExecutor()
    port = free_port()
    argv = service.process_start_argv(
        service.expand("python3 -u health_server.py {port}", port, None), log_file, pid_file
    )
    try:
        assert executor.run(RunSpec(argv, cwd=str(server_dir), timeout=20), Capture()).ok
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=all"],
            cwd=server_dir,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert ".devops" not in status
        assert "health_server.py" in status
    finally:
        executor.run(RunSpec(service.process_stop_argv(pid_file), timeout=20), Capture())


def test_docker_status_parsed():
    text = (
        "true\n"
        '{"CPUPerc":"1.25%","MemUsage":"3.5MiB / 7.7GiB","Name":"devops-instance-1"}\n'
        "0.42\n37\n"
    )
    assert observe.parse_docker_status(text) == {
        "running": True,
        "memory_mb": 3.5,
        "cpu": 1.25,
        "load": 0.42,
        "disk": 37.0,
    }
    assert observe.parse_docker_status("false\n0.1\n50\n")["running"] is False
    assert observe.parse_docker_status("")["running"] is False
    assert observe.parse_docker_status("true\nnot json\n")["memory_mb"] == 0.0


def _start_stop(server_dir, port, pid_file, log_file, **rotation):
    command = service.expand("python3 -u health_server.py {port}", port, None)
    argv = service.process_start_argv(command, log_file, pid_file, **rotation)
    result, capture = run(argv, str(server_dir))
    assert result.ok, capture.text()
    deadline = time.monotonic() + 10
    while not probe.port_open("127.0.0.1", port) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert run(service.process_stop_argv(pid_file))[0].ok


def test_a_restart_keeps_the_log(server_dir):
    """What the service wrote before a restart is still in its log after it."""
    pid_file, log_file = service.paths(str(server_dir), 11)
    _start_stop(server_dir, free_port(), pid_file, log_file)
    with open(log_file) as log:
        first = log.read()
    assert "listening" in first and first.count("=== devops: starting") == 1
    _start_stop(server_dir, free_port(), pid_file, log_file)
    with open(log_file) as log:
        both = log.read()
    assert both.startswith(first) and both.count("=== devops: starting") == 2


def test_logs_rotate_at_start_and_while_running(server_dir):
    """N files of M bytes: a big log is moved to .1 (and .1 to .2…) at start, the oldest
    dropped; a running service's log is rotated in place and the service keeps writing."""
    pid_file, log_file = service.paths(str(server_dir), 12)
    os.makedirs(os.path.dirname(log_file), exist_ok=True)
    with open(log_file, "w") as log:
        log.write("old line\n" * 200)  # 1800 bytes
    with open(log_file + ".1", "w") as log:
        log.write("older\n")
    with open(log_file + ".2", "w") as log:
        log.write("oldest\n")
    _start_stop(server_dir, free_port(), pid_file, log_file, keep=3, max_bytes=1024)
    with open(log_file + ".1") as log:
        assert log.read() == "old line\n" * 200
    with open(log_file + ".2") as log:
        assert log.read() == "older\n"
    assert not os.path.exists(log_file + ".3")  # "oldest" went: 3 files in all
    with open(log_file) as log:
        assert "old line" not in log.read()

    port = free_port()
    command = service.expand("python3 -u health_server.py {port}", port, None)
    assert run(service.process_start_argv(command, log_file, pid_file), str(server_dir))[0].ok
    try:
        deadline = time.monotonic() + 10
        while not probe.port_open("127.0.0.1", port) and time.monotonic() < deadline:
            time.sleep(0.05)
        before = open(log_file).read()
        result, _capture = run(service.rotate_logs_argv([log_file], keep=3, max_bytes=1024))
        assert result.ok
        assert open(log_file).read() == before  # small: left alone
        result, _capture = run(service.rotate_logs_argv([log_file, "/nonexistent.log"], 3, 1))
        assert result.ok
        assert open(log_file + ".1").read() == before and open(log_file).read() == ""
        probe.http_get(f"http://127.0.0.1:{port}/web/health")  # the server logs the request
        deadline = time.monotonic() + 5
        while not open(log_file).read() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "GET /web/health" in open(log_file).read()
        assert "\x00" not in open(log_file).read()  # append mode: no hole where it was
    finally:
        run(service.process_stop_argv(pid_file))


def test_log_tail_reads_across_a_rotation(tmp_path):
    log_file = str(tmp_path / "instance-1.log")
    result, capture = run(service.process_log_argv(log_file, 10))
    assert not result.ok and "No log yet" in capture.text()
    with open(log_file + ".1", "w") as log:
        log.write("".join(f"old {i}\n" for i in range(20)))
    with open(log_file, "w") as log:
        log.write("new 1\nnew 2\n")
    result, capture = run(service.process_log_argv(log_file, 4))
    assert result.ok and capture.text("stdout") == "old 18\nold 19\nnew 1\nnew 2\n"
