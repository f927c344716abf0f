"""Detached jobs: commands that outlive the process that started them.

A run of the background runner is not a child the runner waits for: it is launched detached
(``setsid``, its own session and process group, stdin closed) by a small POSIX shell wrapper
that writes, in a job folder on the command's machine,

- ``pid``: the wrapper's pid, which is also the process group and session of the command;
- ``out`` and ``err``: the command's stdout and stderr, as files (never pipes: a reader that
  dies can make no writer fail);
- ``status``: its exit status once it ended (written to ``status.tmp``, then renamed).

So a worker killed by its time limit, a restart of Odoo, or a lost SSH connection never ends
the command: whoever supervises it next attaches to the folder again (``attach_job``), reads
the output from where it needs, and collects the status.  The folder is
``<jobs dir>/<run token>``: for this machine a folder the caller chooses (Odoo's data
directory), over SSH ``~/.cache/erplibre-devops/jobs`` on the remote host.

Reading is bounded: the first ``head`` bytes of each stream, then, when a stream grows faster
than it is read, the middle is skipped (``Capture.skip``) and only the last ``tail`` bytes
are read: a command printing gigabytes costs the supervisor almost nothing.  The whole output
stays in the files, for ``full_output`` to copy at the end.

The exit status is what the wrapper shell saw: 128 + N means "killed by signal N" (as
shells report it), so a command that exits with such a code on purpose reads as a signal.
"""

import contextlib
import os
import re
import shlex
import shutil
import signal

from .executor import TOKEN_VAR, ExecError, RunResult, check_token
from .output import STDERR, STDOUT

READ_CHUNK = 1 << 20
REMOTE_JOBS_DIR = ".cache/erplibre-devops/jobs"  # relative to the SSH user's home

# $1 job folder, then the command's argv.  Prints the job's pid once it is known.
# The wrapper traps TERM, INT, HUP and QUIT with a no-op: signalled with its process group,
# it outlives the command to write its status (a trap, unlike an ignored signal, is not
# inherited by the command).
LAUNCH = r"""
d=$1; shift
case $d in /*) ;; *) d=$HOME/$d ;; esac
mkdir -p -- "$d" || exit 125
setsid /bin/sh -c '
d=$1; shift
trap : TERM INT HUP QUIT
echo $$ > "$d/pid.tmp" && mv -f -- "$d/pid.tmp" "$d/pid"
"$@" < /dev/null > "$d/out" 2> "$d/err"
echo $? > "$d/status.tmp" && mv -f -- "$d/status.tmp" "$d/status"
' devops-job "$d" "$@" < /dev/null > /dev/null 2>&1 &
i=0
while [ ! -s "$d/pid" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i + 1)); done
[ -s "$d/pid" ] || { echo "The job did not start." >&2; exit 125; }
cat "$d/pid"
"""

# $1 job folder, $2 token, $3/$4 stdout/stderr offsets, $5 head, $6 tail.  Follows the job:
# frames "P pid", "O n" + n bytes (stdout), "E n" + n bytes (stderr), "S O|E n" (n bytes
# skipped), then "X status" (ended) or "L" (gone without a status), or "N" (no such job).
FOLLOW = r"""
d=$1; tok=$2; o=$3; e=$4; H=$5; T=$6
case $d in /*) ;; *) d=$HOME/$d ;; esac
[ -d "$d" ] || { echo N; exit 0; }
i=0
while [ ! -s "$d/pid" ] && [ ! -f "$d/status" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
pid=$(cat "$d/pid" 2>/dev/null)
echo "P ${pid:-0}"
alive() {
    [ -n "$pid" ] && tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null |
        grep -qxF "DEVOPS_RUN_TOKEN=$tok"
}
# ship TAG FILE OFFSET: what the file gained since OFFSET; sets "new" to the new offset.
ship() {
    s=$(wc -c < "$2" 2>/dev/null || echo 0); s=${s##* }; new=$3
    [ "$s" -gt "$3" ] || return 0
    if [ "$3" -lt "$H" ]; then
        n=$((s - $3)); [ "$n" -gt $((H - $3)) ] && n=$((H - $3))
        echo "$1 $n"; tail -c +$(($3 + 1)) "$2" | head -c "$n"; new=$(($3 + n))
    fi
    if [ $((s - new)) -gt $((T + 65536)) ]; then
        echo "S $1 $((s - T - new))"; new=$((s - T))
    fi
    if [ "$s" -gt "$new" ]; then
        n=$((s - new)); [ "$n" -gt 1048576 ] && n=1048576
        echo "$1 $n"; tail -c +$((new + 1)) "$2" | head -c "$n"; new=$((new + n))
    fi
}
while :; do
    done=0; [ -f "$d/status" ] && done=1
    ship O "$d/out" "$o"; o=$new
    ship E "$d/err" "$e"; e=$new
    if [ $done = 1 ]; then
        so=$(wc -c < "$d/out" 2>/dev/null || echo 0); se=$(wc -c < "$d/err" 2>/dev/null || echo 0)
        if [ "${so##* }" -le "$o" ] && [ "${se##* }" -le "$e" ]; then
            echo "X $(cat "$d/status")"; exit 0
        fi
        continue
    fi
    if ! alive && [ ! -f "$d/status" ]; then
        sleep 0.2; [ -f "$d/status" ] && continue
        echo L; exit 0
    fi
    sleep 0.1
done
"""


def job_path(jobs_dir, token):
    return f"{jobs_dir.rstrip('/')}/{check_token(token)}"


def status_result(status):
    """RunResult fields (exit_code, signal) from the wrapper's ``$?``."""
    if status is None:
        return None, None
    if 128 < status <= 128 + 64:
        return None, status - 128
    return status, None


class Job:
    """A detached command being supervised; ``poll`` reads its output, ``result`` says how
    it ended.  Closing a job releases what the supervisor holds, never the command."""

    def __init__(self, token):
        self.token = token
        self.pid = 0
        self.status = None  # the wrapper's $?, once known
        self.lost = False  # gone without a status (killed with its wrapper)
        self.missing = False  # no such job on the machine (never started, or cleaned up)

    @property
    def finished(self):
        return self.status is not None or self.lost or self.missing

    def poll(self, capture):
        """Move new output into ``capture``; True once the job has ended."""
        raise NotImplementedError

    def kill(self, sig=signal.SIGTERM):
        raise NotImplementedError

    def result(self):
        code, sig = status_result(self.status)
        return RunResult(exit_code=code, signal=sig)

    def full_output(self, path, limit):
        """Write the whole output (stdout, then stderr) to the local file ``path``."""
        raise NotImplementedError

    def close(self):
        """Stop supervising (the command goes on)."""

    def cleanup(self):
        """Remove the job's folder (after its result is stored)."""
        raise NotImplementedError


class _Reader:
    """Offsets in one output file of a local job, read head first, then the tail."""

    def __init__(self, path, stream):
        self.path = path
        self.stream = stream
        self.offset = 0

    def pull(self, capture):
        try:
            size = os.path.getsize(self.path)
        except OSError:
            return
        if size <= self.offset:
            return
        head = capture.streams[self.stream].head_limit
        tail = capture.streams[self.stream].tail_limit
        with open(self.path, "rb") as handle:
            if self.offset < head:
                handle.seek(self.offset)
                data = handle.read(min(size, head) - self.offset)
                capture.write(self.stream, data)
                self.offset += len(data)
            if size - self.offset > tail + READ_CHUNK:
                capture.skip(self.stream, size - tail - self.offset)
                self.offset = size - tail
            handle.seek(self.offset)
            while self.offset < size:
                data = handle.read(min(READ_CHUNK, size - self.offset))
                if not data:
                    break
                capture.write(self.stream, data)
                self.offset += len(data)


class LocalJob(Job):
    def __init__(self, token, path):
        super().__init__(token)
        self.path = path
        self.readers = [
            _Reader(os.path.join(path, "out"), STDOUT),
            _Reader(os.path.join(path, "err"), STDERR),
        ]

    def load(self):
        if not os.path.isdir(self.path):
            self.missing = True
            return
        with contextlib.suppress(OSError, ValueError):
            with open(os.path.join(self.path, "pid"), encoding="ascii") as handle:
                self.pid = int(handle.read().strip() or 0)

    def _read_status(self):
        with contextlib.suppress(OSError, ValueError):
            with open(os.path.join(self.path, "status"), encoding="ascii") as handle:
                return int(handle.read().strip())
        return None

    def _alive(self):
        if not self.pid:
            return False
        try:
            with open(f"/proc/{self.pid}/environ", "rb") as environ:
                return f"{TOKEN_VAR}={self.token}".encode() in environ.read().split(b"\0")
        except OSError:
            return False

    def poll(self, capture):
        if self.missing:
            return True
        status = self._read_status()
        for reader in self.readers:
            reader.pull(capture)
        if status is not None:
            if all(r.offset >= _size(r.path) for r in self.readers):
                self.status = status
                return True
            return False
        if not self._alive():
            status = self._read_status()  # it may have ended right now
            if status is None:
                self.lost = True
                for reader in self.readers:
                    reader.pull(capture)
                return True
        return False

    def kill(self, sig=signal.SIGTERM):
        if self.pid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, sig)
        from .local import kill_marked  # noqa: PLC0415 - local imports jobs

        kill_marked(self.token, sig)

    def full_output(self, path, limit):
        out, err = (reader.path for reader in self.readers)
        if _size(err) == 0 and 0 < _size(out) <= limit:
            os.replace(out, path)  # the job has ended: its file becomes the output, no copy
            return _size(path)
        written = 0
        with open(path, "wb") as target:
            for reader in self.readers:
                with contextlib.suppress(OSError), open(reader.path, "rb") as source:
                    while written < limit:
                        data = source.read(min(READ_CHUNK, limit - written))
                        if not data:
                            break
                        target.write(data)
                        written += len(data)
        return written

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)


def _size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


_FRAME = re.compile(rb"([POESXLN])(?: (\S+))?(?: (\d+))?\n")


class SSHJob(Job):
    """A job on an SSH machine, followed through one channel running ``FOLLOW``."""

    def __init__(self, token, path, open_channel, quick, head, tail):
        super().__init__(token)
        self.path = path
        self.open_channel = open_channel  # command -> a channel running it
        self.quick = quick  # command -> runs it, result not read
        self.head, self.tail = head, tail
        self.offsets = {STDOUT: 0, STDERR: 0}
        self.channel = None
        self.buffer = b""
        self.pending = None  # (stream, bytes still to read) of the frame being read

    def follow(self):
        argv = ["/bin/sh", "-c", FOLLOW, "devops-follow", self.path, self.token]
        argv += [str(self.offsets[STDOUT]), str(self.offsets[STDERR])]
        argv += [str(self.head), str(self.tail)]
        self.channel = self.open_channel(shlex.join(argv))
        self.buffer, self.pending = b"", None

    def poll(self, capture):
        if self.finished:
            return True
        channel = self.channel
        while channel.recv_ready():
            data = channel.recv(1 << 18)
            if not data:
                break
            self.buffer += data
        self._parse(capture)
        if not self.finished and channel.exit_status_ready() and not channel.recv_ready():
            self._parse(capture)
            if not self.finished:  # the follower stopped (connection trouble): follow again
                channel.close()
                self.follow()
        return self.finished

    def _parse(self, capture):
        while True:
            if self.pending:
                stream, left = self.pending
                if not self.buffer:
                    return
                data, self.buffer = self.buffer[:left], self.buffer[left:]
                capture.write(stream, data)
                self.offsets[stream] += len(data)
                left -= len(data)
                self.pending = (stream, left) if left else None
                continue
            match = _FRAME.match(self.buffer)
            if not match:
                if len(self.buffer) > 256 and b"\n" in self.buffer[:256]:
                    raise ExecError("Unexpected output from the job follower.")
                return
            self.buffer = self.buffer[match.end() :]
            kind, arg, number = match.group(1), match.group(2), match.group(3)
            if kind == b"P":
                self.pid = int(arg or 0)
            elif kind in (b"O", b"E"):
                stream = STDOUT if kind == b"O" else STDERR
                count = int(arg)
                if count:
                    self.pending = (stream, count)
            elif kind == b"S":
                stream = STDOUT if arg == b"O" else STDERR
                capture.skip(stream, int(number))
                self.offsets[stream] += int(number)
            elif kind == b"X":
                self.status = int(arg)
            elif kind == b"L":
                self.lost = True
            elif kind == b"N":
                self.missing = True

    def kill(self, sig=signal.SIGTERM):
        from .executor import kill_marked_argv  # noqa: PLC0415

        name = signal.Signals(sig).name.removeprefix("SIG")
        commands = []
        if self.pid:
            commands.append(f"kill -{name} -{int(self.pid)} 2>/dev/null")
        commands.append(shlex.join(kill_marked_argv(self.token, sig)))
        self.quick("; ".join(commands))

    def full_output(self, path, limit):
        script = (
            "d=$1; case $d in /*) ;; *) d=$HOME/$d ;; esac; "
            'cat -- "$d/out" "$d/err" 2>/dev/null | head -c "$2"'
        )
        channel = self.open_channel(
            shlex.join(["/bin/sh", "-c", script, "devops-output", self.path, str(int(limit))])
        )
        written = 0
        with open(path, "wb") as target:
            while True:
                data = channel.recv(READ_CHUNK)
                if not data:
                    break
                target.write(data)
                written += len(data)
        channel.close()
        return written

    def close(self):
        if self.channel is not None:
            self.channel.close()

    def cleanup(self):
        self.close()
        script = (
            "d=$1; case $d in /*) ;; *) d=$HOME/$d ;; esac; "
            'case $d in */"$2") rm -rf -- "$d";; esac'
        )
        argv = ["/bin/sh", "-c", script, "devops-clean", self.path, check_token(self.token)]
        self.quick(shlex.join(argv))
