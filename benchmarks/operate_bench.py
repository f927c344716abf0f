"""Operate and monitor benchmarks, run inside an Odoo shell; everything is rolled back.

    DB=erplibre_devops_test scripts/dev.sh shell < benchmarks/operate_bench.py

1. One operate pass over 200 local HTTP instances (each /web/health takes 50 ms, like a
   small Odoo): target <= 2 s; a sequential pass would take 200 x 50 ms = 10 s.
2. Uptime (24 h, 7 d, 30 d) of one instance from 86 400 state changes (a flapper: a change
   every 30 s for 30 days), and its latency series, status strip and uptime per day over
   1 000 000 samples: target < 1 s each.
"""

# pylint: disable=print-used
# (a command-line script: its figures go to standard output)
# ruff: noqa: F821 - "env" is given by the Odoo shell

import http.server
import os
import tempfile
import threading
import time

from odoo.addons.erplibre_devops.engine import probe

COUNT = 200
DELAY = 0.05


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(DELAY)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 256
    daemon_threads = True


def main():
    # 200 servers and their request threads: small stacks keep them under Odoo's RLIMIT_AS.
    threading.stack_size(512 * 1024)
    servers = [Server(("127.0.0.1", 0), Handler) for _ in range(COUNT)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    tmp = tempfile.mkdtemp(prefix="devops-bench-")
    workspace = env["devops.workspace"].create({"name": "Benchmark", "path": tmp})
    instances = env["devops.instance"].create(
        [
            {
                "name": f"Bench {i}",
                "workspace_id": workspace.id,
                "port": server.server_port,
                "start_command": "true",
                "auto_restart": False,
            }
            for i, server in enumerate(servers)
        ]
    )
    os.makedirs(os.path.join(tmp, ".devops"), exist_ok=True)
    for instance in instances:
        with open(instance._paths()[0], "w", encoding="ascii") as pid_file:
            pid_file.write(str(os.getpid()))  # "the process": this shell, alive
    instances.write({"state": "running"})
    env.flush_all()
    best = min(_timed(instances._operate) for _ in range(3))
    states = set(instances.mapped("state"))
    print(f"operate: one pass over {COUNT} instances: {best:.2f} s (states {states}, target 2 s)")
    start = time.perf_counter()
    for instance in instances[:20]:
        probe.probe("127.0.0.1", instance.port, instance.health_url, 5)
    sequential = (time.perf_counter() - start) * COUNT / 20
    print(f"operate: sequential probes would take about {sequential:.1f} s")
    for server in servers:
        server.shutdown()

    one = instances[0]
    env.cr.execute(
        """
        INSERT INTO devops_instance_check (instance_id, date, state, latency_ms, http_status)
        SELECT %s, now() at time zone 'UTC' - (n * interval '2.592 seconds'),
               CASE WHEN n %% 50 = 0 THEN 'down' ELSE 'up' END, 20 + n %% 30, 200
          FROM generate_series(1, 1000000) AS n
        """,
        [one.id],
    )
    # A flapping instance: a state change every 30 s for 30 days (86 400 intervals), running
    # and down by turns (50 %).
    env.cr.execute("DELETE FROM devops_instance_interval WHERE instance_id = %s", [one.id])
    env.cr.execute(
        """
        INSERT INTO devops_instance_interval (instance_id, state, date_start, date_end)
        SELECT %s, CASE WHEN n %% 2 = 0 THEN 'running' ELSE 'down' END,
               now() at time zone 'UTC' - (n * interval '30 seconds'),
               now() at time zone 'UTC' - ((n - 1) * interval '30 seconds')
          FROM generate_series(1, 86400) AS n
        """,
        [one.id],
    )
    env.cr.execute("ANALYZE devops_instance_check")
    env.cr.execute("ANALYZE devops_instance_interval")
    one.invalidate_recordset()
    start = time.perf_counter()
    values = one.read(["uptime_24h", "uptime_7d", "uptime_30d"])[0]
    elapsed = time.perf_counter() - start
    print(
        f"monitor: uptime 24 h / 7 d / 30 d from 86 400 state changes (30 days of a change "
        f"every 30 s): {elapsed:.2f} s (uptime {values['uptime_24h']:.1f} / "
        f"{values['uptime_7d']:.1f} / {values['uptime_30d']:.1f} %; target < 1 s)"
    )
    for field in ("latency_series", "latency_series_7d", "status_strip", "uptime_days"):
        one.invalidate_recordset()
        start = time.perf_counter()
        one.read([field])
        elapsed = time.perf_counter() - start
        print(f"monitor: {field} with 1 000 000 samples: {elapsed:.2f} s (target < 1 s)")
    env.cr.rollback()


def _timed(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


main()
