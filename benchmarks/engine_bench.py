"""Engine benchmarks (run by hand; figures go to README.md, never into tests).

    scripts/dev.sh bench        (or: python benchmarks/engine_bench.py [--quick])

1. 200 local `true` through LocalExecutor vs bare subprocess.run           target <= 1.5x
2. 50 `echo` over SSH on a reused connection vs OpenSSH's client with a
   ControlMaster connection to the same sshd                               target <= 1.0x
3. 200 MB of output captured vs `cmd > file`; time, and peak memory growth of the
   process                                                                 target <= 1.5x, < 100 MB
   - "job": how the runner runs commands (engine.jobs): the command writes to a file, the
     supervisor reads head and tail only, the file becomes the whole output;
   - "pipe": Executor.run (the short commands run in a request): every byte read from pipes,
     head and tail kept in memory, the rest spilled to a file.
"""

# pylint: disable=print-used
# (a command-line script: its figures go to standard output)

import argparse
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from engine import ssh
from engine.executor import RunSpec
from engine.local import LocalExecutor
from engine.output import Capture
from engine.supervisor import Supervisor
from engine.testing import TestSSHServer


def timed(fn, repeat):
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return time.perf_counter() - start


def best_of(fn, repeat, rounds=3):
    return min(timed(fn, repeat) for _ in range(rounds))


def bench_local(count):
    executor = LocalExecutor()
    engine = best_of(lambda: executor.run(RunSpec(["true"]), Capture()), count)
    bare = best_of(lambda: subprocess.run(["true"], capture_output=True, check=False), count)
    return engine, bare


def bench_ssh(count):
    with TestSSHServer() as sshd:
        target = ssh.SSHTarget(
            sshd.host, sshd.port, sshd.user, sshd.host_key, sshd.client_key["ed25519"]
        )
        executor = ssh.SSHExecutor(target)
        executor.run(RunSpec(["true"]), Capture())  # connect once: the pool keeps it
        engine = best_of(lambda: executor.run(RunSpec(["echo", "hello"]), Capture()), count)
        known_hosts = os.path.join(sshd.dir, "known_hosts")
        with open(known_hosts, "w", encoding="ascii") as hosts:
            hosts.write(f"[{sshd.host}]:{sshd.port} {sshd.host_key}\n")
        control = os.path.join(sshd.dir, "cm-%C")
        base = [
            "ssh", "-p", str(sshd.port), "-i", sshd.client_key_path,
            "-o", f"UserKnownHostsFile={known_hosts}", "-o", "StrictHostKeyChecking=yes",
            "-o", "BatchMode=yes", "-o", f"ControlPath={control}", "-o", "LogLevel=ERROR",
        ]  # fmt: skip
        destination = f"{sshd.user}@{sshd.host}"
        master = subprocess.Popen([*base, "-M", "-N", "-o", "ControlPersist=no", destination])
        try:
            for _ in range(100):
                if (
                    subprocess.run(
                        [*base, "-O", "check", destination], capture_output=True, check=False
                    ).returncode
                    == 0
                ):
                    break
                time.sleep(0.05)
            openssh = best_of(
                lambda: subprocess.run(
                    [*base, destination, "echo", "hello"], capture_output=True, check=True
                ),
                count,
            )
        finally:
            master.terminate()
            master.wait()
        ssh.POOL.close_all()
    return engine, openssh


def bench_output_child(size, mode):
    """Runs in a child process, so that its peak RSS is this measurement's alone."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        if mode == "job":
            spec = RunSpec(["head", "-c", str(size), "/dev/zero"], token=secrets.token_hex(16))
            job = LocalExecutor().start_job(spec, os.path.join(tmp, "jobs"))
            supervisor = Supervisor(poll_interval=0.05)
            capture = Capture()
            supervisor.add("job", job, capture)
            supervisor.run(lambda items: (), lambda item, result: None)
            whole = os.path.join(tmp, "whole")
            assert job.full_output(whole, 2**31) == size and capture.size == size
            job.cleanup()
        elif mode == "pipe":
            capture = Capture(spill_dir=tmp)
            LocalExecutor().run(RunSpec(["head", "-c", str(size), "/dev/zero"]), capture)
            assert capture.size == size and os.path.getsize(capture.spill_path) == size
        else:
            with open(os.path.join(tmp, "out"), "wb") as out:
                subprocess.run(["head", "-c", str(size), "/dev/zero"], stdout=out, check=True)
        elapsed = time.perf_counter() - start
    growth_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    print(f"{elapsed} {growth_kb}")


def bench_output(size):
    results = {}
    for mode in ("job", "pipe", "redirect"):
        runs = []
        for _ in range(3):
            out = subprocess.run(
                [sys.executable, __file__, "--output-child", str(size), mode],
                capture_output=True, text=True, check=True,
            ).stdout.split()  # fmt: skip
            runs.append((float(out[0]), int(out[1])))
        results[mode] = min(runs)
    return results


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--output-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.output_child:
        bench_output_child(int(args.output_child[0]), args.output_child[1])
        return
    local_count, ssh_count, size = (20, 10, 20 * 2**20) if args.quick else (200, 50, 200 * 2**20)
    engine, bare = bench_local(local_count)
    print(f"local: {local_count} x true: engine {engine:.3f} s, subprocess.run {bare:.3f} s, "
          f"ratio {engine / bare:.2f} (target <= 1.5)")  # fmt: skip
    engine, openssh = bench_ssh(ssh_count)
    print(f"ssh: {ssh_count} x echo: engine {engine:.3f} s, OpenSSH ControlMaster "
          f"{openssh:.3f} s, ratio {engine / openssh:.2f} (target <= 1.0)")  # fmt: skip
    results = bench_output(size)
    redirect_t = results["redirect"][0]
    for mode in ("job", "pipe"):
        elapsed, growth_kb = results[mode]
        print(f"output: {size >> 20} MB, {mode}: {elapsed:.3f} s, cmd > file {redirect_t:.3f} s, "
              f"ratio {elapsed / redirect_t:.2f} (target <= 1.5); peak memory growth "
              f"{growth_kb / 1024:.1f} MB (target < 100 MB)")  # fmt: skip


if __name__ == "__main__":
    main()
