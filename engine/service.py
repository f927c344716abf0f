"""Long-running services (instances): how to start, stop and look at them on a machine.

A *process* instance is a start command run detached (``setsid nohup``) from its workspace,
its output appended to a log file and its pid written to a pid file, both under
``<workspace>/.devops/``.  A *docker* instance is a container named ``devops-instance-<id>``.
Every function here returns an argv list for an executor (local or SSH): user values are
always separate arguments, never pasted into a shell string.  The start command itself is
the user's shell command and runs with ``/bin/sh -c``, by design.
"""

import contextlib
import re
import shlex

STATE_DIR = ".devops"
_DATABASE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}")
_IMAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/@-]{0,254}")

# Run from the workspace: keep the state folder out of git's sight (a checkout's untracked
# files), through the repository's own info/exclude, which nobody commits.
_EXCLUDE_STATE = r"""
ex=$(git rev-parse --git-path info/exclude 2>/dev/null) &&
    { grep -qxF '.devops/' "$ex" 2>/dev/null ||
      { mkdir -p -- "$(dirname -- "$ex")" && echo '.devops/' >> "$ex"; }; } 2>/dev/null
"""

# rotate LOG KEEP MAX_BYTES: when LOG holds MAX_BYTES or more, shift LOG.1.. LOG.(KEEP-1) up
# one (the oldest goes), copy LOG to LOG.1 and empty LOG.  Copy-then-empty, not a rename: a
# running service keeps writing (in append mode) to the same, now shorter, file.
_ROTATE = r"""
rotate() {
    [ -f "$1" ] || return 0
    size=$(wc -c < "$1" 2>/dev/null) || return 0
    [ "$size" -ge "$3" ] || return 0
    i=$(($2 - 1))
    while [ "$i" -gt 1 ]; do
        [ -f "$1.$((i - 1))" ] && mv -f -- "$1.$((i - 1))" "$1.$i"
        i=$((i - 1))
    done
    [ "$2" -gt 1 ] && cp -p -- "$1" "$1.1"
    : > "$1"
}
"""

# $1 command, $2 log file, $3 pid file, $4 log files kept, $5 bytes per log file.  The log is
# appended to, never emptied (a restart keeps what the service said before it), and rotated
# when too big; fails (with the new output's tail) if the service dies at once.
_START = (
    _EXCLUDE_STATE
    + _ROTATE
    + r"""
mkdir -p -- "$(dirname -- "$2")" || exit 1
rotate "$2" "$4" "$5"
echo "=== devops: starting, $(date -u '+%Y-%m-%d %H:%M:%S') UTC ===" >> "$2"
offset=$(($(wc -c < "$2") + 1))
setsid nohup /bin/sh -c "$1" >> "$2" 2>&1 < /dev/null &
echo $! > "$3"
sleep 1
if ! kill -0 "-$(cat "$3")" 2>/dev/null; then
    echo "The service stopped at once. The end of its log:" >&2
    tail -c "+$offset" "$2" | tail -n 20 >&2
    rm -f -- "$3"
    exit 1
fi
echo "started, pid $(cat "$3")"
"""
)

# $1 pid file: TERM the process group, KILL what is left of it after 5 s.
# ("kill -TERM -PGID", not "kill -TERM -- -PGID": dash, Debian's sh, refuses the "--".)
_STOP = r"""
[ -f "$1" ] || { echo "not running (no pid file)"; exit 0; }
pid=$(cat "$1")
alive() { kill -0 "-$pid" 2>/dev/null || kill -0 "$pid" 2>/dev/null; }
kill -TERM "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
i=0
while alive && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
if alive; then
    kill -KILL "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
    i=0
    while alive && [ $i -lt 20 ]; do sleep 0.1; i=$((i + 1)); done
fi
rm -f -- "$1"
echo "stopped, pid $pid"
"""

# $1.. pid files: one line "pidfile pid alive rss_kb cpu_percent" each, then the machine.
# The service is its process group (setsid made the pid its leader): alive while any of its
# processes is (the shell that ran the command may be gone, the server it started is not);
# memory and CPU are the sums over the group.
_STATUS = r"""
for f in "$@"; do
    pid=$(cat "$f" 2>/dev/null)
    case "$pid" in *[!0-9]*|'') pid= ;; esac
    if [ -n "$pid" ] && kill -0 "-$pid" 2>/dev/null; then
        stats=$(ps -e -o pgid=,stat=,rss=,pcpu= 2>/dev/null | awk -v g="$pid" \
            '$1 == g && $2 !~ /^Z/ {n++; r += $3; c += $4} END {if (n) print r, c}')
        if [ -n "$stats" ]; then echo "proc $f $pid 1 $stats"; else echo "proc $f - 0"; fi
    else
        echo "proc $f - 0"
    fi
done
echo "load $(cut -d ' ' -f 1 /proc/loadavg 2>/dev/null)"
echo "disk $(df -P / 2>/dev/null | awk 'NR == 2 {print $5}' | tr -d '%')"
"""


def check_database(name):
    if name and (not isinstance(name, str) or not _DATABASE.fullmatch(name)):
        return f"'{name}' is not a valid database name: use letters, digits, '_', '.' and '-'."
    return None


def check_image(image):
    if not isinstance(image, str) or not _IMAGE.fullmatch(image):
        return f"'{image or ''}' is not a valid image name, such as odoo:18 or registry/x:1.0."
    return None


def paths(workspace_path, instance_id):
    base = f"{workspace_path.rstrip('/')}/{STATE_DIR}/instance-{instance_id}"
    return f"{base}.pid", f"{base}.log"


def container_name(instance_id):
    return f"devops-instance-{instance_id}"


def expand(command, port, database):
    """The start command with {port} and {database} replaced (the database quoted)."""
    return command.replace("{port}", str(int(port))).replace(
        "{database}", shlex.quote(database or "")
    )


def process_start_argv(command, log_file, pid_file, keep=5, max_bytes=10 * 1024 * 1024):
    """Start ``command`` detached; its log is rotated first if it holds ``max_bytes``
    (``keep`` files in all: the log and keep - 1 older ones)."""
    keep, max_bytes = _rotation(keep, max_bytes)
    return [
        "/bin/sh",
        "-c",
        _START,
        "devops-start",
        command,
        log_file,
        pid_file,
        str(keep),
        str(max_bytes),
    ]


def rotate_logs_argv(log_files, keep=5, max_bytes=10 * 1024 * 1024):
    """Rotate each of ``log_files`` that holds ``max_bytes`` or more (running services too)."""
    keep, max_bytes = _rotation(keep, max_bytes)
    script = _ROTATE + 'k=$1; m=$2; shift 2; for f in "$@"; do rotate "$f" "$k" "$m"; done'
    return ["/bin/sh", "-c", script, "devops-rotate", str(keep), str(max_bytes), *log_files]


def _rotation(keep, max_bytes):
    return max(1, min(int(keep), 100)), max(1, int(max_bytes))


def process_stop_argv(pid_file):
    return ["/bin/sh", "-c", _STOP, "devops-stop", pid_file]


def process_log_argv(log_file, lines=200):
    """The last ``lines`` lines of the log, the newest rotated file first if the log is
    short (it was just rotated); fails when there is no log at all."""
    script = (
        '[ -f "$1" ] || [ -f "$1.1" ] || { echo "No log yet: $1 does not exist." >&2; exit 1; }; '
        '{ tail -n "$2" -- "$1.1"; tail -n "$2" -- "$1"; } 2>/dev/null | tail -n "$2"'
    )
    return ["/bin/sh", "-c", script, "devops-log", log_file, str(int(lines))]


def status_argv(pid_files):
    return ["/bin/sh", "-c", _STATUS, "devops-status", *pid_files]


def parse_status(text):
    """{pid file: (alive, pid, rss_mb, cpu)}, and the machine's {"load", "disk"}."""
    procs, machine = {}, {"load": 0.0, "disk": 0.0}
    for line in text.splitlines():
        parts = line.split()
        if parts[:1] == ["proc"] and len(parts) >= 4:
            alive = parts[3] == "1"
            pid = int(parts[2]) if alive else 0
            rss = float(parts[4]) / 1024 if alive and len(parts) > 4 else 0.0
            cpu = float(parts[5]) if alive and len(parts) > 5 else 0.0
            procs[parts[1]] = (alive, pid, rss, cpu)
        elif parts[:1] in (["load"], ["disk"]) and len(parts) == 2:
            with contextlib.suppress(ValueError):
                machine[parts[0]] = float(parts[1])
    return procs, machine


def docker_run_argv(instance_id, image, port, container_port, database=None):
    argv = ["docker", "run", "--detach", "--name", container_name(instance_id)]
    argv += ["--publish", f"{int(port)}:{int(container_port)}"]
    if database:
        argv += ["--env", f"DEVOPS_DATABASE={database}"]
    return [*argv, "--", image]


def docker_stop_argv(instance_id):
    return ["docker", "rm", "--force", container_name(instance_id)]


def docker_log_argv(instance_id, lines=200):
    return ["docker", "logs", "--tail", str(int(lines)), container_name(instance_id)]


def docker_status_argv(name):
    """One line: running flag, then the container's stats as JSON (or nothing)."""
    script = (
        'docker inspect --format "{{.State.Running}}" "$1" 2>/dev/null || echo false; '
        "docker stats --no-stream --format '{{json .}}' \"$1\" 2>/dev/null; "
        "cut -d ' ' -f 1 /proc/loadavg; df -P / | awk 'NR == 2 {print $5}' | tr -d '%'"
    )
    return ["/bin/sh", "-c", script, "devops-docker-status", name]


def backup_argv(database, path):
    """pg_dump in custom format to ``path``, then print its size in bytes."""
    script = _EXCLUDE_STATE + (
        'mkdir -p -- "$(dirname -- "$2")" && pg_dump --format=custom --file="$2" -- "$1" '
        '&& echo "size $(wc -c < "$2")"'
    )
    return ["/bin/sh", "-c", script, "devops-backup", database, path]
