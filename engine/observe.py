"""Look at many services at once: process or container alive, port open, health URL.

``observe(machines, targets, timeout)`` runs one thread per machine (this machine: psutil
and the docker SDK; an SSH machine: one status script for all its processes, one docker
status script per container) while ``probe.probe_many`` checks every port and health URL
concurrently.  Plain data in, plain data out: callers read what they need from their
database first, and the threads never touch it.  A problem with one machine or one service
is that one's ``error``, never the others'.
"""

import concurrent.futures
import contextlib
import json
import re

from . import probe, service
from .executor import ExecError


class Observation:
    """What one look at a service found."""

    def __init__(self):
        self.alive = None  # None: not known (no process to look at)
        self.pid = 0
        self.port_open = False
        self.http_status = 0
        self.latency_ms = 0.0
        self.error = ""
        self.cpu = 0.0
        self.memory_mb = 0.0
        self.load = 0.0
        self.disk = 0.0

    @property
    def healthy(self):
        return 200 <= self.http_status < 300


def observe(machines, targets, timeout=5.0):
    """``machines``: [(executor or None for this machine, items)], each item a dict with
    ``id``, ``kind`` ("process"/"docker"), ``pid_file``, ``container``; ``targets``:
    {id: (host, port, health URL or None)}.  Returns {id: Observation}."""
    found = {}
    for _executor, items in machines:
        for item in items:
            found[item["id"]] = Observation()
    for key in targets:
        found.setdefault(key, Observation())
    with concurrent.futures.ThreadPoolExecutor(8, thread_name_prefix="devops-observe") as pool:
        jobs = [
            (items, pool.submit(observe_machine, executor, items, found))
            for executor, items in machines
        ]
        probes = probe.probe_many(targets, timeout)
        for items, job in jobs:
            try:
                job.result()
            except Exception as error:
                message = f"The status of this machine could not be read: {error}"
                for item in items:
                    found[item["id"]].error = message
    for key, (_host, _port, health_url) in targets.items():
        seen, result = found[key], probes[key]
        seen.port_open = result.port_open
        seen.http_status = result.http_status
        seen.latency_ms = result.latency_ms
        seen.error = seen.error or result.error
        if result.port_open and not health_url:
            seen.http_status = 200  # no health URL: the open port is enough
    return found


def observe_machine(executor, items, found):
    """Process or container status of ``items`` on one machine, into ``found``."""
    try:
        if executor is None:
            _observe_here(items, found)
        else:
            _observe_remote(executor, items, found)
    except (ExecError, RuntimeError) as error:
        for item in items:
            found[item["id"]].error = str(error)


def _observe_here(items, found):
    stats = probe.local_machine()
    for item in items:
        seen = found[item["id"]]
        seen.load, seen.disk = stats["load"], stats["disk"]
        if item["kind"] == "docker":
            seen.alive, seen.memory_mb, seen.cpu = probe.local_container(item["container"])
        else:
            seen.alive, seen.pid, seen.memory_mb, seen.cpu = probe.local_process(item["pid_file"])


def _observe_remote(executor, items, found):
    processes = [item for item in items if item["kind"] == "process"]
    if processes:
        ok, out = executor.read_stdout(
            service.status_argv([i["pid_file"] for i in processes]), timeout=20
        )
        if not ok:
            raise ExecError(out.strip()[-500:] or "the status script failed")
        procs, stats = service.parse_status(out)
        for item in processes:
            seen = found[item["id"]]
            seen.load, seen.disk = stats["load"], stats["disk"]
            seen.alive, seen.pid, seen.memory_mb, seen.cpu = procs.get(
                item["pid_file"], (False, 0, 0.0, 0.0)
            )
    for item in items:
        if item["kind"] != "docker":
            continue
        seen = found[item["id"]]
        ok, out = executor.read_stdout(service.docker_status_argv(item["container"]), timeout=20)
        if not ok:
            seen.error = out.strip()[-500:] or "docker status failed"
            continue
        status = parse_docker_status(out)
        seen.alive, seen.memory_mb, seen.cpu = status["running"], status["memory_mb"], status["cpu"]
        seen.load, seen.disk = status["load"], status["disk"]


_SIZE = re.compile(r"([\d.]+)\s*([KMGT]?i?B)", re.IGNORECASE)
_UNITS = {
    "b": 1 / 2**20,
    "kb": 1e3 / 2**20,
    "kib": 1 / 2**10,
    "mb": 1e6 / 2**20,
    "mib": 1.0,
    "gb": 1e9 / 2**20,
    "gib": 2**10,
    "tb": 1e12 / 2**20,
    "tib": 2**20,
}


def parse_docker_status(text):
    """What ``service.docker_status_argv`` printed: the running flag, then ``docker stats``
    as JSON (absent when the container is not running), the load and the disk use %."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    status = {"running": False, "memory_mb": 0.0, "cpu": 0.0, "load": 0.0, "disk": 0.0}
    if not lines:
        return status
    status["running"] = lines[0] == "true"
    rest = lines[1:]
    if rest and rest[0].startswith("{"):
        with contextlib.suppress(ValueError):
            stats = json.loads(rest[0])
            status["cpu"] = float(str(stats.get("CPUPerc", "0")).rstrip("%") or 0)
            match = _SIZE.match(str(stats.get("MemUsage", "")))
            if match:
                status["memory_mb"] = float(match.group(1)) * _UNITS[match.group(2).lower()]
        rest = rest[1:]
    numbers = []
    for line in rest:
        with contextlib.suppress(ValueError):
            numbers.append(float(line))
    if numbers:
        status["load"] = numbers[0]
    if len(numbers) > 1:
        status["disk"] = numbers[1]
    return status
