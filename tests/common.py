import contextlib
import os
import shutil
import sys
import tempfile
import time

from odoo import SUPERUSER_ID, api, sql_db
from odoo.tests import TransactionCase, new_test_user
from odoo.tools import config

from odoo.addons.erplibre_devops.engine.testing import TestSSHServer

MODULE = "erplibre_devops"

STAGE_CODES = ["plan", "code", "build", "test", "release", "deploy", "operate", "monitor"]


def xmlid(name):
    return f"{MODULE}.{name}"


class DevopsCase(TransactionCase):
    """Users of each access level, and this machine's record."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.local_machine = cls.env.ref(xmlid("machine_local"))
        cls.plain_user = new_test_user(cls.env, login="devops_plain", groups="base.group_user")
        cls.devops_user = new_test_user(
            cls.env, login="devops_user", groups=f"base.group_user,{xmlid('group_devops_user')}"
        )
        cls.local_user = new_test_user(
            cls.env,
            login="devops_local_user",
            groups=f"base.group_user,{xmlid('group_devops_local_exec')}",
        )
        cls.devops_manager = new_test_user(
            cls.env,
            login="devops_manager",
            groups=f"base.group_user,{xmlid('group_devops_manager')}",
        )

    @classmethod
    def make_workspace(cls, name="Workspace", path="/srv/erplibre", machine=None):
        return cls.env["devops.workspace"].create(
            {"name": name, "path": path, "machine_id": (machine or cls.local_machine).id}
        )

    @classmethod
    def make_tempdir(cls):
        path = tempfile.mkdtemp(prefix="devops-test-")
        cls.addClassCleanup(shutil.rmtree, path, ignore_errors=True)
        return path


class RunnerCase(DevopsCase):
    """Runs commands with the real runner, inside the test transaction.

    The registry is put in test mode (as HttpCase does), so the cursors the runner opens
    for its short transactions see the test's data and roll back with it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registry.enter_test_mode(cls.cr)
        cls.addClassCleanup(cls.registry.leave_test_mode)
        cls.tmp = cls.make_tempdir()
        cls.Exec = cls.env["devops.exec"]

    def run_all(self, timeout=120, parallel=None):
        """Run the queue, and the pipelines it advances, until nothing is left to do: what
        the runner and pipeline crons do in production (``parallel`` runs at once; one by
        default, in the order they were queued).  Returns how many runs ended."""
        Pipeline = self.env["devops.pipeline.run"]
        Exec = self.Exec.with_context(devops_runner_parallel=parallel) if parallel else self.Exec
        ran = 0
        deadline = time.monotonic() + timeout
        while True:
            self.env.flush_all()  # what a request would have committed before the runner reads
            ran += Exec._run_pending()
            self.env.invalidate_all()
            Pipeline._cron_advance()  # the steps that wait, when their time has come
            self.env.flush_all()
            busy = self.Exec.search_count([("state", "in", ("queued", "running"))])
            active = Pipeline.search_count([("state", "in", ("queued", "running", "waiting"))])
            if not (busy or active) or time.monotonic() > deadline:
                break
            if not busy:
                time.sleep(0.2)
        self.env.invalidate_all()
        return ran


class SSHCase(RunnerCase):
    """A real OpenSSH server on 127.0.0.1 and an SSH machine with a pinned host key."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sshd = TestSSHServer().start()
        cls.addClassCleanup(cls.sshd.stop)
        cls.ssh_machine = cls.env["devops.machine"].create(
            {
                "name": "Test sshd",
                "kind": "ssh",
                "host": cls.sshd.host,
                "port": cls.sshd.port,
                "ssh_user": cls.sshd.user,
                "ssh_private_key": cls.sshd.client_key["ed25519"],
            }
        )

    def trust_ssh_machine(self):
        """Test the connection and accept the host key shown, as a manager does."""
        self.ssh_machine.action_test_connection()
        self.ssh_machine.action_accept_host_key(self.ssh_machine.host_key_offered_fingerprint)


@contextlib.contextmanager
def committed_env(dbname):
    """An environment on a connection of its own, committed on exit.

    For the tests that need real concurrency (runner processes): what they create must be
    committed to be seen, and they clean up after themselves."""
    cr = sql_db.db_connect(dbname).cursor()
    try:
        yield api.Environment(cr, SUPERUSER_ID, {})
        # Deliberate: runner processes only see committed runs.
        cr.commit()  # pylint: disable=invalid-commit
    finally:
        cr.close()


def odoo_cli_argv(command, dbname, *args):
    """argv of ``odoo-bin COMMAND`` on ``dbname`` with this server's options, given
    explicitly (the server may run without a configuration file)."""
    odoo_bin = os.path.join(os.path.dirname(config["root_path"]), "odoo-bin")
    options = [f"--addons-path={config['addons_path']}", f"--data-dir={config['data_dir']}"]
    for name in ("db_host", "db_port", "db_user", "db_password"):
        if config.get(name):
            options.append(f"--{name}={config[name]}")
    # An addon's command is found before the options are read: the addons path comes first,
    # and again among the command's options.
    return [sys.executable, odoo_bin, options[0], command, *options, "-d", dbname, *args]


def odoo_shell_argv(dbname):
    """argv of an ``odoo-bin shell`` on ``dbname`` with this server's options."""
    return odoo_cli_argv("shell", dbname, "--no-http", "--log-level=warn")
