"""Runner benchmarks, run inside an Odoo shell; the runs it makes are deleted at the end.

    DB=erplibre_devops_test scripts/dev.sh shell < benchmarks/runner_bench.py

1. Latency: one `true` from queued to done (claim, detached start, supervision, the result
   stored, the owners told), the best of 10.
2. Throughput: 200 `sleep 0.2` runs with 4 parallel runs (Settings): target >= 15 runs/s
   (the floor is 4 / 0.2 = 20 runs/s with no overhead at all).
"""

# pylint: disable=print-used
# (a command-line script: its figures go to standard output)
# ruff: noqa: F821 - "env" is given by the Odoo shell

import time

Exec = env["devops.exec"]
machine = env.ref("erplibre_devops.machine_local")
made = []


def queue(argv):
    run_id = Exec._enqueue(machine, argv)
    made.append(run_id)
    return run_id


latencies = []
for _ in range(10):
    queue(["true"])
    env.cr.commit()
    start = time.perf_counter()
    Exec.with_context(devops_runner_parallel=1)._run_pending()
    latencies.append(time.perf_counter() - start)
print(f"latency: one `true`, queued to done: best {min(latencies) * 1000:.0f} ms, "
      f"median {sorted(latencies)[5] * 1000:.0f} ms")  # fmt: skip

for _ in range(200):
    queue(["sleep", "0.2"])
env.cr.commit()
start = time.perf_counter()
Exec.with_context(devops_runner_parallel=4)._run_pending()
elapsed = time.perf_counter() - start
states = set(Exec.browse(made[-200:]).mapped("state"))
print(f"throughput: 200 x `sleep 0.2`, 4 at a time: {elapsed:.1f} s, {200 / elapsed:.1f} runs/s "
      f"(no-overhead floor 20 runs/s; target >= 15); states {sorted(states)}")  # fmt: skip

env.invalidate_all()
Exec.browse(made).with_context(devops_exec_retention=True).unlink()
env.cr.commit()
