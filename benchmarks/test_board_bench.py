"""Test board benchmark, run inside an Odoo shell; everything is rolled back.

    DB=erplibre_devops_test scripts/dev.sh shell < benchmarks/test_board_bench.py

10 000 test results in 100 runs of 5 workspaces (2 branches each) are stored the way the
pipeline stores them (``_store_results``: counts, flaky tests, first failing commits), then
the screens are timed as the web client asks for them: the Test board (kanban of the latest
run per workspace and branch), the list of test runs, the results list (first page) and the
results grouped by day for the pass-rate graph.  Target: the board <= 300 ms server time.
"""

# pylint: disable=print-used
# (a command-line script: its figures go to standard output)
# ruff: noqa: F821 - "env" is given by the Odoo shell

import statistics
import time

from odoo.addons.erplibre_devops.engine.testlog import TestResult

RESULTS = 10_000
RUNS = 100
REPEAT = 10

env.registry.enter_test_mode(env.cr)
try:
    machine = env.ref("erplibre_devops.machine_local")
    workspaces = env["devops.workspace"].create(
        [{"name": f"Board bench {i}", "path": f"/srv/board-bench-{i}", "machine_id": machine.id}
         for i in range(5)]
    )  # fmt: skip
    Run = env["devops.test.run"]
    per_run = RESULTS // RUNS
    started = time.perf_counter()
    for number in range(RUNS):
        workspace = workspaces[number % 5]
        commit = f"{number // 10:040x}"
        run = Run.create(
            {"workspace_id": workspace.id, "branch": f"b{number % 2}", "commit": commit,
             "commit_key": commit, "state": "running", "name": f"Bench #{number}"}
        )  # fmt: skip
        results = []
        for index in range(per_run):
            state = "passed"
            if index % 17 == 0:
                state = "failed"
            elif index % 23 == 0:
                state = "skipped"
            elif index % 31 == number % 31:
                state = "error"
            results.append(TestResult(f"mod_{index % 20}", f"TestC{index % 7}",
                                      f"test_{index}", state, 0.01 * (index % 50)))  # fmt: skip
        run._store_results(results)
        run.write({"state": "failed"})
        run._compare()
        run._mark_latest()
    stored = time.perf_counter() - started
    env.flush_all()
    print(f"stored {RESULTS} results in {RUNS} runs: {stored:.1f} s "
          f"({1000 * stored / RUNS:.0f} ms per run)")  # fmt: skip

    board_fields = {name: {} for name in ("workspace_id", "state", "branch", "commit",
                    "author_name", "passed", "failed", "errors", "skipped", "new_failures",
                    "date_start")}  # fmt: skip
    list_fields = {name: {} for name in ("name", "workspace_id", "branch", "commit", "state",
                   "passed", "failed", "errors", "new_failures", "date_start",
                   "duration")}  # fmt: skip
    result_fields = {name: {} for name in ("date", "run_id", "module", "test_class", "method",
                     "state", "duration", "history", "flaky", "new_failure")}  # fmt: skip

    def board():
        Run.web_search_read([("is_latest", "=", True)], board_fields, limit=40)

    def runs_list():
        Run.web_search_read([], list_fields, limit=80)

    def results_list():
        env["devops.test.result"].web_search_read([], result_fields, limit=80)

    def pass_rate_graph():
        env["devops.test.result"].read_group([], ["pass_rate:avg"], ["date:day"])

    for name, screen in (("Test board", board), ("Test runs list", runs_list),
                         ("Results list (80 rows, with history)", results_list),
                         ("Pass-rate graph", pass_rate_graph)):  # fmt: skip
        times = []
        for _ in range(REPEAT):
            env.invalidate_all()
            start = time.perf_counter()
            screen()
            times.append(time.perf_counter() - start)
        print(f"{name}: median {1000 * statistics.median(times):.1f} ms, "
              f"max {1000 * max(times):.1f} ms")  # fmt: skip
finally:
    env.cr.rollback()
    env.registry.leave_test_mode()
