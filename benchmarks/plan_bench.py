"""Plan benchmark, run inside an Odoo shell; everything is rolled back.

    DB=erplibre_devops_test scripts/dev.sh shell < benchmarks/plan_bench.py

- A change's refresh (``_refresh``: git facts of its branch in 3 repositories — 300
  commits touching 50 modules — the releases holding it, its records): target <= 2 s.
- The Plan board with 500 changes (read_group by stage + the cards' fields): <= 300 ms.
- ``dora_metrics`` over 2 000 production deployments, 2 000 changes, 500 incidents: <= 1 s;
  the dashboard (the period and twelve weeks): <= 2 s.
"""

# pylint: disable=print-used
# (a command-line script: its figures go to standard output)
# ruff: noqa: F821 - "env" is given by the Odoo shell

import datetime
import os
import shutil
import statistics
import subprocess
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


def git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, env=GIT, check=True, capture_output=True)


def timed(function, runs=RUNS):
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        function()
        times.append(time.perf_counter() - began)
    return statistics.median(times), max(times)


root = tempfile.mkdtemp(prefix="plan-bench-")
try:
    ws_path = os.path.join(root, "ws")
    os.makedirs(ws_path)
    workspace = env["devops.workspace"].create(
        {
            "name": "Plan bench",
            "path": ws_path,
            "machine_id": env.ref("erplibre_devops.machine_local").id,
        }
    )
    for name in ("odoo", "addons", "tools"):
        work = os.path.join(root, f"{name}-work")
        os.makedirs(work)
        git(work, "init", "--quiet", "--initial-branch", "main")
        with open(os.path.join(work, "README"), "w", encoding="utf-8") as handle:
            handle.write(name)
        git(work, "add", "--all")
        git(work, "commit", "--quiet", "-m", "first")
        bare = os.path.join(root, f"{name}.git")
        git(root, "clone", "--quiet", "--bare", work, bare)
        git(ws_path, "clone", "--quiet", bare, name)
        env["devops.workspace.repo"].create(
            {"workspace_id": workspace.id, "url": bare, "folder": name, "branch": "main"}
        )
    addons = os.path.join(ws_path, "addons")
    git(addons, "switch", "--quiet", "--create", "feature/bench")
    for index in range(50):
        module = os.path.join(addons, f"bench_{index}")
        os.makedirs(module)
        with open(os.path.join(module, "__manifest__.py"), "w", encoding="utf-8") as handle:
            handle.write("{'name': 'Bench'}\n")
    git(addons, "add", "--all")
    git(addons, "commit", "--quiet", "-m", "modules")
    for index in range(299):
        path = os.path.join(addons, f"bench_{index % 50}", "models.py")
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(f"x{index} = {index}\n")
        git(addons, "add", "--all")
        git(addons, "commit", "--quiet", "-m", f"commit {index}")
    change = env["devops.change"].create(
        {"name": "Bench", "workspace_ids": [workspace.id], "branch": "feature/bench"}
    )
    median, worst = timed(lambda: change._refresh(read_git=True))
    print(
        f"refresh: median {median * 1000:.0f} ms, max {worst * 1000:.0f} ms "
        f"({change.commit_count} commits, {len(change.modules.split(', '))} modules, "
        f"stage {change.stage_id.code})"
    )

    # The board: 500 changes spread over the stages.
    stages = env["devops.stage"].search([])
    Change = env["devops.change"].sudo()
    changes = Change.create(
        [{"name": f"Change {i}", "workspace_ids": [workspace.id], "branch": f"feature/b{i}"}
         for i in range(500)]
    )  # fmt: skip
    for i, record in enumerate(changes):
        record.stage_id = stages[i % 8]
    env.flush_all()
    fields_ = ["name", "priority", "branch", "build_state", "test_state", "modules",
               "stage_reason", "blocked", "kind", "date_deadline", "user_id"]  # fmt: skip

    def board():
        groups = Change.web_read_group([], ["stage_id"], ["stage_id"], lazy=False)
        for group in groups["groups"]:
            Change.web_search_read(group["__domain"], {f: {} for f in fields_}, limit=40)

    median, worst = timed(board)
    print(f"board (500 changes): median {median * 1000:.1f} ms, max {worst * 1000:.1f} ms")

    # The metrics over 2 000 deployments, 2 000 changes, 500 incidents.
    release = env["devops.release"].sudo()
    with open(os.path.join(ws_path, "odoo", "README"), "a", encoding="utf-8") as handle:
        handle.write("x")
    rel = release.create({"version": "9.9", "workspace_id": workspace.id})
    rel.write({"state": "approved"})
    instance = env["devops.instance"].create(
        {"name": "Bench prod", "workspace_id": workspace.id, "environment": "production",
         "config_path": "/tmp/bench.conf"}  # noqa: S108 - never read
    )  # fmt: skip
    start = datetime.datetime(2026, 1, 1)
    deps = (
        env["devops.deployment"]
        .sudo()
        .create([{"release_id": rel.id, "instance_id": instance.id} for _ in range(2000)])
    )
    for i, dep in enumerate(deps):
        dep.write({"state": "done" if i % 10 else "rolled_back",
                   "date_end": start + datetime.timedelta(hours=4 * i)})  # fmt: skip
    for i, record in enumerate(Change.create(
        [{"name": f"Lead {i}", "workspace_ids": [workspace.id]} for i in range(2000)]
    )):  # fmt: skip
        moment = start + datetime.timedelta(hours=4 * i)
        record.write({"first_commit_date": moment,
                      "production_date": moment + datetime.timedelta(hours=30)})  # fmt: skip
    for i in range(500):
        incident = env["devops.incident"].create({"instance_id": instance.id, "cause": "x"})
        moment = start + datetime.timedelta(hours=16 * i + 1)
        incident.write({"date_start": moment, "date_end": moment + datetime.timedelta(hours=2)})
    env.flush_all()
    median, worst = timed(lambda: workspace.dora_metrics("2026-01-01", "2026-12-31"))
    figures = workspace.dora_metrics("2026-01-01", "2026-12-31")
    print(
        f"dora_metrics: median {median * 1000:.0f} ms, max {worst * 1000:.0f} ms "
        f"(frequency {figures['deployment_frequency']:.2f}/day, lead "
        f"{figures['lead_time_hours']:.1f} h, failure {figures['change_failure_rate']:.0f} %, "
        f"restore {figures['time_to_restore_hours']:.1f} h)"
    )
    board_ = env["devops.dora.dashboard"].create(
        {"workspace_id": workspace.id, "date_from": "2026-06-01", "date_to": "2026-06-30"}
    )

    def dashboard():
        board_.invalidate_recordset()
        board_._compute_figures()

    median, worst = timed(dashboard, runs=5)
    print(
        f"dashboard (period + 12 weeks): median {median * 1000:.0f} ms, max {worst * 1000:.0f} ms"
    )
finally:
    env.cr.rollback()
    shutil.rmtree(root, ignore_errors=True)
