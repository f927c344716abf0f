"""The "Run" button's round trip, wizard to queued record, against a running app.

    scripts/dev.sh run &            # the app at http://localhost:8069
    python benchmarks/enqueue_bench.py [URL] [DB]

It does what the button does: save the wizard (web_save), then call action_run
(call_button), which queues the run and returns its form.  Target: <= 300 ms whatever the
command's length.  The commands are no-ops (": …"), so the cron runs them at once.
"""

# pylint: disable=print-used
# (a command-line script: its figures go to standard output)

import statistics
import sys
import time

import requests

URL = sys.argv[1] if len(sys.argv) > 1 else "http://localhost:8069"
DB = sys.argv[2] if len(sys.argv) > 2 else "erplibre_devops"
REPEAT = 20


def main():
    session = requests.Session()
    session.post(
        f"{URL}/web/session/authenticate",
        json={"jsonrpc": "2.0", "params": {"db": DB, "login": "admin", "password": "admin"}},
        timeout=30,
    ).raise_for_status()

    def rpc(path, params):
        reply = session.post(f"{URL}{path}", json={"jsonrpc": "2.0", "params": params}, timeout=30)
        body = reply.json()
        if "error" in body:
            raise RuntimeError(body["error"]["data"]["message"])
        return body["result"]

    for length in (10, 1_000, 100_000):
        command = ": " + "x" * (length - 2)
        times = []
        for _ in range(REPEAT):
            start = time.perf_counter()
            saved = rpc(
                "/web/dataset/call_kw/devops.exec.wizard/web_save",
                {
                    "model": "devops.exec.wizard",
                    "method": "web_save",
                    "args": [[], {"command": command}],
                    "kwargs": {"specification": {}},
                },
            )
            action = rpc(
                "/web/dataset/call_button",
                {
                    "model": "devops.exec.wizard",
                    "method": "action_run",
                    "args": [[saved[0]["id"]]],
                    "kwargs": {},
                },
            )
            times.append(time.perf_counter() - start)
            assert action["res_model"] == "devops.exec"
        print(
            f"command of {length:>7} chars: median {statistics.median(times) * 1000:.0f} ms, "
            f"max {max(times) * 1000:.0f} ms over {REPEAT} (target <= 300 ms)"
        )


if __name__ == "__main__":
    main()
