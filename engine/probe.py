"""Health probes: is the port open, does the health URL answer, how busy is the process.

:func:`probe` checks one service: TCP connect to its port, then an HTTP GET of its health
URL, with a timeout and the latency.  :func:`probe_many` runs many probes concurrently in
threads (200 services in about the time of the slowest one), which the operate cron needs.
Process and machine statistics come from psutil here; for SSH machines the caller runs
``engine.service.status_argv`` through the SSH executor instead.
"""

import concurrent.futures
import contextlib
import dataclasses
import http.client
import logging
import os
import socket
import threading
import time
import urllib.parse

_logger = logging.getLogger(__name__)

try:
    import psutil
except ImportError:  # pragma: no cover - declared dependency
    psutil = None

MAX_WORKERS = 64


@dataclasses.dataclass
class ProbeResult:
    port_open: bool = False
    http_status: int = 0
    latency_ms: float = 0.0
    error: str = ""

    @property
    def healthy(self):
        return 200 <= self.http_status < 300


def port_open(host, port, timeout=2.0):
    return connect_time(host, port, timeout) is not None


def connect_time(host, port, timeout=2.0):
    """Milliseconds a TCP connection to ``host:port`` took, or None when nothing answers."""
    start = time.perf_counter()
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return (time.perf_counter() - start) * 1000
    except OSError:
        return None


def http_get(url, timeout=5.0):
    """(status, latency ms, error): one GET, no redirects followed, body read and dropped."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        return 0, 0.0, f"Not a valid URL: {url}"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return 0, 0.0, f"Not an http(s) URL: {url}"
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    start = time.perf_counter()
    connection = connection_class(parts.hostname, port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"User-Agent": "erplibre-devops-probe"})
        response = connection.getresponse()
        response.read(65536)
        latency = (time.perf_counter() - start) * 1000
        error = (
            ""
            if 200 <= response.status < 300
            else f"{url} answered HTTP {response.status} {response.reason}"
        )
        return response.status, latency, error
    except (OSError, http.client.HTTPException) as exc:
        latency = (time.perf_counter() - start) * 1000
        if isinstance(exc, TimeoutError | socket.timeout):
            return 0, latency, f"No answer from {url} within {timeout:g} s"
        return 0, latency, f"{url}: {exc.__class__.__name__}: {exc}"
    except ValueError as exc:  # e.g. a control character in the path
        return 0, 0.0, f"{url}: {exc}"
    finally:
        connection.close()


def probe(host, port, health_url, timeout=5.0):
    """Port, then health URL; never raises: a problem is the result's ``error``, which
    names what was checked.  The latency is the GET's, or the connect time without one."""
    try:
        connected = connect_time(host, port, min(timeout, 2.0))
        result = ProbeResult(port_open=connected is not None, latency_ms=connected or 0.0)
        if not result.port_open:
            result.error = f"Nothing answers on {host}:{port}."
            return result
        if health_url:
            result.http_status, result.latency_ms, result.error = http_get(health_url, timeout)
        return result
    except Exception as error:
        return ProbeResult(error=f"The check of {health_url or f'{host}:{port}'} failed: {error}")


def probe_many(targets, timeout=5.0):
    """``targets``: {key: (host, port, health_url)} → {key: ProbeResult}, concurrently."""
    if not targets:
        return {}
    workers = min(MAX_WORKERS, len(targets))
    with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="devops-probe") as pool:
        futures = {
            key: pool.submit(probe, host, port, url, timeout)
            for key, (host, port, url) in targets.items()
        }
        return {key: future.result() for key, future in futures.items()}


def local_process(pid_file):
    """(alive, pid, rss MB, cpu %) of the service whose process group leader is in
    ``pid_file``: its whole process group (setsid made it the leader), so a service stays
    alive while any of its processes does, also when the shell that ran the command is gone."""
    try:
        with open(pid_file, encoding="ascii") as handle:
            pid = int(handle.read().strip())
    except (OSError, ValueError):
        return False, 0, 0.0, 0.0
    if pid <= 0:
        return False, 0, 0.0, 0.0
    if psutil is None:
        try:
            os.killpg(pid, 0)
        except OSError:
            return False, pid, 0.0, 0.0
        return True, pid, 0.0, 0.0
    members = _leader_tree(pid) or _group_members(pid)
    if not members:
        return False, pid, 0.0, 0.0
    rss = cpu = 0.0
    for member in members:
        with contextlib.suppress(psutil.Error):
            member = _known(member)
            rss += member.memory_info().rss
            cpu += member.cpu_percent(interval=None)
    return True, pid, rss / 2**20, cpu


_KNOWN_LOCK = threading.Lock()
_KNOWN = {}  # pid: psutil.Process seen before (CPU % is measured since the previous call)


def _known(proc):
    """The Process object seen at the previous check for this process, if any: a fresh one
    always reports 0 % CPU."""
    with _KNOWN_LOCK:  # probes run in threads
        seen = _KNOWN.get(proc.pid)
        if seen is not None and seen == proc:  # same pid and start time
            return seen
        if len(_KNOWN) > 4096:
            for pid in [pid for pid, old in _KNOWN.items() if not old.is_running()]:
                del _KNOWN[pid]
        _KNOWN[proc.pid] = proc
        return proc


def _leader_tree(pid):
    """The common case, fast: the leader alive, and its descendants."""
    try:
        leader = psutil.Process(pid)
        if leader.status() == psutil.STATUS_ZOMBIE:
            return []
        return [leader, *leader.children(recursive=True)]
    except psutil.Error:
        return []


def _group_members(pgid):
    """The live (not zombie) processes of process group ``pgid``."""
    try:
        os.killpg(pgid, 0)  # fast path: nobody left in the group
    except ProcessLookupError:
        return []
    except PermissionError:  # someone is there, owned by another user: look for them
        _logger.debug("process group %s belongs to another user", pgid)
    members = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                members.append(proc)
        except (OSError, psutil.Error):
            continue
    return members


def local_machine():
    """{"load": 1-minute load average, "disk": % of / used}."""
    load = os.getloadavg()[0]
    disk = psutil.disk_usage("/").percent if psutil is not None else 0.0
    return {"load": load, "disk": disk}


def local_container(name):
    """(running, memory MB, cpu %) of a container on this machine's engine (docker SDK)."""
    import docker  # noqa: PLC0415 - only machines with docker instances need it

    try:
        client = docker.from_env(timeout=10)
    except docker.errors.DockerException as error:
        raise RuntimeError(f"Docker is not reachable on this machine: {error}") from error
    try:
        try:
            container = client.containers.get(name)
        except docker.errors.NotFound:
            return False, 0.0, 0.0
        if container.status != "running":
            return False, 0.0, 0.0
        stats = container.stats(stream=False)
    finally:
        client.close()
    memory = stats.get("memory_stats", {}).get("usage", 0) / 2**20
    cpu_stats, pre = stats.get("cpu_stats", {}), stats.get("precpu_stats", {})
    cpu_delta = cpu_stats.get("cpu_usage", {}).get("total_usage", 0) - pre.get("cpu_usage", {}).get(
        "total_usage", 0
    )
    system_delta = cpu_stats.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    cpus = cpu_stats.get("online_cpus") or 1
    cpu = cpu_delta / system_delta * cpus * 100 if system_delta > 0 else 0.0
    return True, memory, cpu
