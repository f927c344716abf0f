"""Deployment benchmark: the commands of the pipeline "Deploy" on a real Odoo server.

    python benchmarks/deploy_bench.py [--conf .work/odoo.conf]

Run with the virtualenv of scripts/dev.sh (it holds Odoo's requirements) while the private
PostgreSQL cluster runs (``scripts/dev.sh run``, or just after a test run); ``--conf`` gives
the PostgreSQL connection.  A small database (base and one generated module) is made, its
Odoo server started, then a release bumping the module is deployed step by step with the
engine's own commands (``engine/deploy.py``) — preflight, backup (database and filestore,
read back), checkout, ``-u``, restart until healthy, smoke check — and each step timed; then
a broken release (its migration raises) is rolled back: stop, code back, restore, start
until healthy.  Everything made is removed at the end.
"""

# pylint: disable=print-used
# (a command-line script: its figures go to standard output)

import argparse
import configparser
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, HERE)

from engine import deploy

ODOO = os.environ.get("ODOO_SRC", "/opt/odoo/18.0")
ENV = {**os.environ, "GIT_AUTHOR_NAME": "B", "GIT_AUTHOR_EMAIL": "b@example.com",
       "GIT_COMMITTER_NAME": "B", "GIT_COMMITTER_EMAIL": "b@example.com"}  # fmt: skip
MANIFEST = "{'name': 'Bench', 'version': '%s', 'license': 'LGPL-3', 'depends': ['base'], " \
    "'data': ['ir.model.access.csv']}\n"  # fmt: skip
MODEL = "from odoo import fields, models\n\n\nclass B(models.Model):\n    _name = 'bench.demo'\n" \
    "    _description = 'Bench'\n    name = fields.Char()\n"  # fmt: skip
ACCESS = "id,name,model_id:id,group_id:id,perm_read,perm_write,perm_create,perm_unlink\n" \
    "a,a,model_bench_demo,base.group_user,1,1,1,1\n"  # fmt: skip
BROKEN = "def migrate(cr, version):\n    raise RuntimeError('broken on purpose')\n"


def sh(argv, cwd=None, check=True):
    result = subprocess.run(argv, cwd=cwd, env=ENV, capture_output=True, text=True, check=False)
    if check and result.returncode:
        raise SystemExit(f"{argv[:6]} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return result


def commit(work, files, message):
    for path, text in files.items():
        os.makedirs(os.path.dirname(os.path.join(work, path)), exist_ok=True)
        with open(os.path.join(work, path), "w", encoding="utf-8") as handle:
            handle.write(text)
    sh(["git", "add", "--all"], work)
    sh(["git", "commit", "--quiet", "-m", message], work)
    return sh(["git", "rev-parse", "HEAD"], work).stdout.strip()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, conf, port):
        self.argv = [sys.executable, f"{ODOO}/odoo-bin", "-c", conf, "--http-port", str(port)]
        self.url, self.process = f"http://127.0.0.1:{port}", None

    def start(self):
        self.process = subprocess.Popen(
            self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/web/health", timeout=2) as answer:  # noqa: S310
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise SystemExit("The server did not become healthy.")

    def stop(self):
        if self.process:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(30)
            self.process = None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--conf", default=os.path.join(HERE, ".work", "odoo.conf"))
    args = parser.parse_args()
    base = configparser.ConfigParser(interpolation=None)
    base.read(args.conf)
    tmp = tempfile.mkdtemp(prefix="deploy-bench-")
    database = f"deploy_bench_{os.getpid()}"
    work, ws = os.path.join(tmp, "work"), os.path.join(tmp, "ws")
    os.makedirs(work)
    sh(["git", "init", "--quiet", "--initial-branch", "main"], work)
    files = {
        "bench_demo/__manifest__.py": MANIFEST % "18.0.1.0.0",
        "bench_demo/__init__.py": "from . import models\n",
        "bench_demo/models.py": MODEL,
        "bench_demo/ir.model.access.csv": ACCESS,
    }
    commit(work, files, "1.0")
    sh(["git", "clone", "--quiet", "--bare", work, f"{tmp}/shop.git"])
    os.makedirs(ws)
    sh(["git", "clone", "--quiet", f"{tmp}/shop.git", "shop"], ws)
    conf = os.path.join(tmp, "odoo.conf")
    options = dict(base.items("options"))
    options.update(addons_path=f"{ODOO}/odoo/addons,{ODOO}/addons,{ws}/shop",
                   data_dir=f"{tmp}/data", db_name=database, list_db="False")  # fmt: skip
    with open(conf, "w", encoding="utf-8") as handle:
        handle.write("[options]\n" + "".join(f"{k} = {v}\n" for k, v in options.items()))
    odoo_bin = f"{ODOO}/odoo-bin"
    server = Server(conf, free_port())
    times = {}

    def timed(name, argv, cwd=ws, check=True):
        started = time.perf_counter()
        result = sh(argv, cwd, check)
        times[name] = time.perf_counter() - started
        return result

    try:
        started = time.perf_counter()
        sh([sys.executable, odoo_bin, "-c", conf, "-d", database, "-i", "bench_demo",
            "--stop-after-init", "--no-http"])  # fmt: skip
        server.start()
        print(f"setup (database with base, server healthy): {time.perf_counter() - started:.1f} s")
        files = {
            "bench_demo/__manifest__.py": MANIFEST % "18.0.1.1.0",
            "bench_demo/models.py": MODEL + "    code = fields.Char()\n",
        }
        new = commit(work, files, "1.1")
        sh(["git", "push", "--quiet", f"{tmp}/shop.git", "main"], work)
        total = time.perf_counter()
        out = timed("preflight", deploy.preflight_argv(sys.executable, conf, database, ["shop"]))
        installed = deploy.parse_preflight(out.stdout)["db"]["modules"]
        backup = f"{tmp}/backup.zip"
        timed("backup", deploy.backup_argv(sys.executable, odoo_bin, conf, database, backup))
        timed("checkout", deploy.release_checkout_argv([("shop", "", new)]))
        modules = deploy.modules_to_update(installed, {"bench_demo": "18.0.1.1.0"})
        timed("update (-u)", [sys.executable, odoo_bin, "-c", conf, "-d", database, "-u",
                              ",".join(modules), "--stop-after-init", "--no-http"])  # fmt: skip
        started = time.perf_counter()
        server.stop()
        server.start()
        times["restart + health"] = time.perf_counter() - started
        started = time.perf_counter()
        with urllib.request.urlopen(f"{server.url}/web/login", timeout=30) as answer:  # noqa: S310
            assert answer.status == 200
        sh(deploy.db_state_argv(sys.executable, conf, database))
        times["smoke"] = time.perf_counter() - started
        total = time.perf_counter() - total
        size = os.path.getsize(backup) / 2**20
        print(f"\nA deployment of one module ({', '.join(modules)}), backup {size:.1f} MB:")
        for name, seconds in times.items():
            print(f"  {name:<18} {seconds:6.2f} s  {100 * seconds / total:5.1f} %")
        print(f"  {'total':<18} {total:6.2f} s")

        # A broken release: its migration raises; then the roll back of code and database.
        files = {
            "bench_demo/__manifest__.py": MANIFEST % "18.0.1.2.0",
            "bench_demo/migrations/18.0.1.2.0/post-x.py": BROKEN,
        }
        broken = commit(work, files, "1.2")
        sh(["git", "push", "--quiet", f"{tmp}/shop.git", "main"], work)
        sh(deploy.release_checkout_argv([("shop", "", broken)]), ws)
        failed = sh([sys.executable, odoo_bin, "-c", conf, "-d", database, "-u", "bench_demo",
                     "--stop-after-init", "--no-http"], check=False)  # fmt: skip
        assert failed.returncode != 0, "the broken migration did not fail"
        times.clear()
        rollback = time.perf_counter()
        started = time.perf_counter()
        server.stop()
        times["stop"] = time.perf_counter() - started
        timed("code back", deploy.release_checkout_argv([("shop", "", new)]))
        timed("restore", deploy.restore_argv(sys.executable, ODOO, conf, database, backup))
        started = time.perf_counter()
        server.start()
        times["start + health"] = time.perf_counter() - started
        rollback = time.perf_counter() - rollback
        print("\nThe roll back after a failed update:")
        for name, seconds in times.items():
            print(f"  {name:<18} {seconds:6.2f} s  {100 * seconds / rollback:5.1f} %")
        print(f"  {'total':<18} {rollback:6.2f} s")

    finally:
        server.stop()
        sh([sys.executable, odoo_bin, "db", "-c", conf, "drop", database], check=False)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
