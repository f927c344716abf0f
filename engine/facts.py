"""Facts about a machine: OS, kernel, CPUs, memory, free disk, git and docker versions.

One fixed shell script (no user input in it) runs through whichever executor reaches the
machine, so this machine and SSH machines are described the same way.
"""

from .executor import ExecError, RunSpec, script_argv
from .output import Capture

FACTS_SCRIPT = r"""
printf 'os=%s\n' "$(. /etc/os-release 2>/dev/null && printf '%s' "$PRETTY_NAME" || uname -s)"
printf 'kernel=%s\n' "$(uname -sr)"
printf 'cpus=%s\n' "$(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc 2>/dev/null)"
printf 'mem_kb=%s\n' "$(awk '/^MemTotal:/ {print $2}' /proc/meminfo 2>/dev/null)"
printf 'disk_free_kb=%s\n' "$(df -Pk "${HOME:-/}" 2>/dev/null | awk 'NR == 2 {print $4}')"
printf 'git=%s\n' "$(git --version 2>/dev/null)"
printf 'docker=%s\n' "$(docker --version 2>/dev/null)"
"""


def parse_facts(text):
    raw = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            raw[key.strip()] = value.strip()

    def number(key):
        try:
            return int(raw.get(key, ""))
        except ValueError:
            return 0

    return {
        "os": raw.get("os", ""),
        "kernel": raw.get("kernel", ""),
        "cpus": number("cpus"),
        "memory_mb": number("mem_kb") // 1024,
        "disk_free_mb": number("disk_free_kb") // 1024,
        "git_version": raw.get("git", "").removeprefix("git version ").strip(),
        "docker_version": raw.get("docker", "").removeprefix("Docker version ").split(",")[0],
    }


def gather(executor, timeout=20):
    """Run the facts script with ``executor``; returns the facts dict (raises ExecError)."""
    capture = Capture()
    result = executor.run(RunSpec(script_argv(FACTS_SCRIPT), timeout=timeout), capture)
    if not result.ok:
        raise ExecError(
            "Gathering the machine's facts failed: " + capture.text(stream="stderr")[-500:]
        )
    return parse_facts(capture.text(stream="stdout"))
