"""Run commands on this machine with subprocess.

Each run starts in a new session (its own process group), with stdin closed, and its stdout
and stderr read through a selector as they come.  Stopping a run signals the whole process
group, every descendant psutil still sees (a child that left the group with setsid), and
every process that carries the run's token in its environment (one that was re-parented
after its parent exited: a daemon's double fork).
"""

import contextlib
import os
import selectors
import shutil
import signal
import subprocess

from . import jobs
from .executor import TOKEN_VAR, ExecError, Executor, check_file_target
from .output import STDERR, STDOUT

try:
    import psutil
except ImportError:  # pragma: no cover - psutil is a declared dependency
    psutil = None

CHUNK = 256 * 1024


class _Handle:
    def __init__(self, proc, token=None):
        self.proc = proc
        self.token = token
        self.selector = selectors.DefaultSelector()
        self.open = 0
        for pipe, name in ((proc.stdout, STDOUT), (proc.stderr, STDERR)):
            os.set_blocking(pipe.fileno(), False)
            self.selector.register(pipe, selectors.EVENT_READ, name)
            self.open += 1


class LocalExecutor(Executor):
    """Executor for the machine the Odoo server runs on."""

    def __init__(self, base_env=None):
        self.base_env = base_env

    def _start(self, spec):
        env = self._environment(spec)
        if spec.cwd is not None and not os.path.isdir(spec.cwd):
            raise ExecError(f"The directory {spec.cwd} does not exist on this machine.")
        try:
            proc = subprocess.Popen(  # noqa: S603 - an argv list, never a shell string
                list(spec.argv),
                cwd=spec.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                close_fds=True,
            )
        except FileNotFoundError as error:
            raise ExecError(f"Program not found: {spec.argv[0]}") from error
        except PermissionError as error:
            raise ExecError(f"Permission denied: {error.filename or spec.argv[0]}") from error
        except OSError as error:
            raise ExecError(f"Could not start {spec.argv[0]}: {error.strerror}") from error
        return _Handle(proc, spec.token)

    def _pump(self, handle, capture, timeout):
        if handle.open:
            for key, _events in handle.selector.select(timeout):
                try:
                    data = os.read(key.fileobj.fileno(), CHUNK)
                except BlockingIOError:
                    continue
                if data:
                    capture.write(key.data, data)
                else:
                    handle.selector.unregister(key.fileobj)
                    key.fileobj.close()
                    handle.open -= 1
        else:
            with contextlib.suppress(subprocess.TimeoutExpired):
                handle.proc.wait(timeout)
        return not handle.open and handle.proc.poll() is not None

    def _kill(self, handle, sig):
        proc = handle.proc
        victims = []
        if psutil is not None and proc.poll() is None:
            with contextlib.suppress(psutil.Error):
                victims = psutil.Process(proc.pid).children(recursive=True)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        for child in victims:
            with contextlib.suppress(psutil.Error):
                child.send_signal(sig)
        if handle.token:
            kill_marked(handle.token, sig)

    def kill_marked(self, token, sig=signal.SIGKILL):
        kill_marked(token, sig)

    def _environment(self, spec):
        env = dict(os.environ if self.base_env is None else self.base_env)
        env.update({name: str(value) for name, value in spec.environment().items()})
        return env

    def start_job(self, spec, jobs_dir=None):
        spec.check()
        if not spec.token or not jobs_dir:
            raise ExecError("A detached job needs a token and a jobs folder.")
        env = self._environment(spec)
        if spec.cwd is not None and not os.path.isdir(spec.cwd):
            raise ExecError(f"The directory {spec.cwd} does not exist on this machine.")
        program = spec.argv[0]
        if "/" in program:
            path = program if os.path.isabs(program) else os.path.join(spec.cwd or ".", program)
            if not os.path.exists(path):
                raise ExecError(f"Program not found: {program}")
        elif shutil.which(program, path=env.get("PATH")) is None:
            raise ExecError(f"Program not found: {program}")
        path = jobs.job_path(jobs_dir, spec.token)
        if os.path.exists(path):
            raise ExecError(f"The job {spec.token} was already started.")
        try:
            launched = subprocess.run(  # noqa: S603 - fixed script, the argv as data
                ["/bin/sh", "-c", jobs.LAUNCH, "devops-launch", path, *spec.argv],
                cwd=spec.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                start_new_session=True,
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as error:
            raise ExecError(f"Could not start {program}: {error}") from error
        if launched.returncode != 0:
            message = launched.stderr.decode("utf-8", "replace").strip()
            raise ExecError(f"Could not start {program}: {message or launched.returncode}")
        job = jobs.LocalJob(spec.token, path)
        job.pid = int(launched.stdout.split()[-1])
        return job

    def write_file(self, path, data, mode=0o600):
        check_file_target(path, mode)
        folder = os.path.dirname(path)
        temporary = f"{path}.devops-tmp"
        try:
            os.makedirs(folder, mode=0o700, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
            descriptor = os.open(temporary, flags, mode)
            with os.fdopen(descriptor, "wb") as handle:
                os.fchmod(handle.fileno(), mode)
                handle.write(data)
            os.replace(temporary, path)
        except OSError as error:
            raise ExecError(f"Could not write {path}: {error.strerror or error}") from error

    def attach_job(self, token, jobs_dir=None):
        job = jobs.LocalJob(token, jobs.job_path(jobs_dir, token))
        job.load()
        return job

    def _info(self, handle):
        info = {"pid": handle.proc.pid, "create_time": None}
        if psutil is not None:
            with contextlib.suppress(psutil.Error):
                info["create_time"] = psutil.Process(handle.proc.pid).create_time()
        return info

    def _status(self, handle):
        code = handle.proc.wait()
        if code < 0:
            return None, -code
        return code, None

    def _close(self, handle):
        for key in list(handle.selector.get_map().values()):
            handle.selector.unregister(key.fileobj)
            key.fileobj.close()
        handle.selector.close()
        if handle.proc.poll() is None:
            self._kill(handle, signal.SIGKILL)
            handle.proc.wait()


def marked_processes(token):
    """The processes of this machine whose environment carries the run token ``token``."""
    if psutil is None or not token:
        return []
    wanted = f"{TOKEN_VAR}={token}".encode()
    found = []
    me = os.getpid()
    for proc in psutil.process_iter():
        if proc.pid == me:
            continue
        try:
            with open(f"/proc/{proc.pid}/environ", "rb") as environ:
                if wanted in environ.read().split(b"\0"):
                    found.append(proc)
        except OSError:
            continue  # gone, or another user's
    return found


def kill_marked(token, sig=signal.SIGKILL):
    """Signal every process carrying the run token; returns how many were signalled."""
    victims = marked_processes(token)
    for proc in victims:
        with contextlib.suppress(psutil.Error):
            proc.send_signal(sig)
    return len(victims)


def process_alive(pid, create_time=None):
    """Whether ``pid`` is still the same process (its start time guards against pid reuse)."""
    if psutil is None:
        return False
    try:
        proc = psutil.Process(pid)
        return create_time is None or abs(proc.create_time() - create_time) < 0.01
    except psutil.Error:
        return False
