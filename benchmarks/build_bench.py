"""Build reuse benchmark, run inside an Odoo shell; everything is rolled back.

    DB=erplibre_devops_test scripts/dev.sh shell < benchmarks/build_bench.py

A workspace (a git repository made here, with a module that has a requirements.txt) is
built once by adopting the virtualenv that runs this shell (its pip freeze is the lock);
then ``build()`` is asked again N times with nothing changed: each answer is the same build,
reused by its fingerprint (scan, facts of the machine, hash, lookup).  Target: <= 1 s.
"""

# pylint: disable=print-used
# (a command-line script: its figures go to standard output)
# ruff: noqa: F821 - "env" is given by the Odoo shell

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

RUNS = 10
GIT = {
    **os.environ,
    "GIT_AUTHOR_NAME": "b",
    "GIT_AUTHOR_EMAIL": "b@example.com",
    "GIT_COMMITTER_NAME": "b",
    "GIT_COMMITTER_EMAIL": "b@example.com",
}

root = tempfile.mkdtemp(prefix="devops-build-bench-")
# The runner's own cursors see (and roll back with) this transaction, as in the tests.
env.registry.enter_test_mode(env.cr)
try:
    module = os.path.join(root, "bench_module")
    os.makedirs(module)
    with open(os.path.join(module, "__manifest__.py"), "w", encoding="utf-8") as handle:
        handle.write("{'name': 'Bench', 'depends': ['base']}\n")
    with open(os.path.join(module, "requirements.txt"), "w", encoding="utf-8") as handle:
        handle.write("psutil\n")
    for argv in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "bench"]):
        subprocess.run(["git", *argv], cwd=root, env=GIT, check=True)
    workspace = env["devops.workspace"].create(
        {
            "name": "Build bench",
            "path": root,
            "machine_id": env.ref("erplibre_devops.machine_local").id,
        }
    )
    first = env["devops.build"].browse(workspace.build(adopt_path=sys.prefix))
    # What the runner and the pipeline cron do in production.
    deadline = time.monotonic() + 120
    while first.state not in ("done", "failed") and time.monotonic() < deadline:
        env.flush_all()
        env["devops.exec"]._run_pending()
        env.invalidate_all()
        env["devops.pipeline.run"]._cron_advance()
        env.flush_all()
        env.invalidate_all()
    print(f"first build: {first.state} ({len((first.lock or '').splitlines())} packages locked)")
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        again = workspace.build(adopt_path=sys.prefix)
        times.append(time.perf_counter() - started)
        assert again == first.id, "not reused"
    print(
        f"build() again, nothing changed, {RUNS} times: median {statistics.median(times):.3f} s, "
        f"max {max(times):.3f} s (target <= 1 s)"
    )
    # scan_modules() of a generated 2 000-module tree: the scan on the machine, its parsing
    # and the devops.module records with their dependencies.
    tree = os.path.join(root, "tree")
    for index in range(2000):
        folder = os.path.join(tree, f"repo_{index // 100:02d}", f"bench_module_{index:05d}")
        os.makedirs(folder)
        depends = [f"bench_module_{index - step:05d}" for step in (1, 7, 31) if index >= step]
        with open(os.path.join(folder, "__manifest__.py"), "w", encoding="utf-8") as handle:
            handle.write(repr({"name": f"Bench {index}", "depends": depends or ["base"]}))
    big = env["devops.workspace"].create(
        {
            "name": "Scan bench",
            "path": tree,
            "machine_id": env.ref("erplibre_devops.machine_local").id,
        }
    )
    times = []
    for _ in range(5):
        started = time.perf_counter()
        count = big.scan_modules()
        times.append(time.perf_counter() - started)
    links = len(big.module_ids.depends_ids)
    print(
        f"scan_modules() of {count} modules (stored with their dependencies, {links} depended "
        f"on): first {times[0]:.3f} s, again (nothing changed) median "
        f"{statistics.median(times[1:]):.3f} s (target <= 2 s)"
    )
finally:
    env.registry.leave_test_mode()
    env.cr.rollback()
    shutil.rmtree(root, ignore_errors=True)
