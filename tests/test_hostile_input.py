"""A sweep of generated hostile values through every public method argument and every writable
field that reaches a command, a path, a URL or a socket.

Each value either is refused with a clear message (UserError, ValidationError: never another
exception, never a traceback) or is kept as data: the runs it queued are then run for real,
and no payload may have executed (every payload would create a file in a canary folder).
"""

import logging
import math
import os
import random
import time

from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged

from .common import RunnerCase
from .test_code import GitMixin

_logger = logging.getLogger(__name__)

INTERNAL = ("Traceback", "object has no attribute", "invalid literal", "unsupported operand")


def hostile_values(canary, count=1000, seed=8):
    """``count`` distinct hostile values: shell metacharacters, option-like values, NUL and
    control characters, newlines, over-long texts, unicode tricks and wrong types."""
    touch = f"touch {canary}/PWNED"
    payloads = [
        f"; {touch}",
        f"$({touch})",
        f"`{touch}`",
        f"| {touch}",
        f"&& {touch}",
        f"|| {touch}",
        f"& {touch} &",
        f"\n{touch}",
        f"\r\n{touch}",
        f"'; {touch}; '",
        f'"; {touch}; "',
        f"${{IFS}}{touch.replace(' ', '${IFS}')}",
        f"> {canary}/PWNED",
        f"-oProxyCommand={touch}",
        f"--upload-pack={touch}",
        f"--output={canary}/PWNED",
        "-e",
        "--help",
        "-",
        "..",
        "../../../etc/passwd",
        "%(x)s %s {0} {port}",
        "\x00",
        "\x1b[31m",
        "\t",
        "\x7f",
        "\u202e",
        "é",
        "*",
        "~",
        "\\",
    ]
    prefixes = [
        "",
        "a",
        "/srv/",
        "main",
        "http://localhost:8069/",
        "sale,",
        "/tmp/x y/",
        "Ada <ada@example.com>",
    ]
    suffixes = ["", "\n", " ", "x", "\x00"]
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not cryptography
    values = []
    seen = set()

    def add(value):
        key = (type(value).__name__, repr(value))
        if key not in seen:
            seen.add(key)
            values.append(value)

    for value in (
        0,
        -1,
        1,
        2**31,
        2**63,
        1.5,
        0.5,
        -0.0,
        math.inf,
        math.nan,
        True,
        False,
        None,
        [],
        ["a"],
        [1, 2],
        {},
        {"a": 1},
        "",
        " ",
        "a" * 300,
        "a" * 5000,
        "/" + "a" * 200_000,
        "x\x00" * 10,
    ):
        add(value)
    for prefix in prefixes:
        for payload in payloads:
            for suffix in suffixes:
                add(prefix + payload + suffix)
    while len(values) < count:
        parts = rng.sample(payloads, 2)
        add(rng.choice(prefixes) + parts[0] + rng.choice(suffixes) + parts[1])
    return values[:count] if len(values) > count else values


@tagged("post_install", "-at_install")
class TestHostileInput(GitMixin, RunnerCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.canary = cls.make_tempdir()
        cls.values = hostile_values(cls.canary)
        _remote, clone = cls.make_repos(cls.make_tempdir())
        cls.workspace = cls.make_workspace(name="Hostile", path=clone)
        # The code wizard's branches go to a clone of their own (the updates' refs stay
        # missing: each accepted ref ends at its checkout).
        _remote, code_clone = cls.make_repos(cls.make_tempdir())
        cls.code_workspace = cls.make_workspace(name="Hostile code", path=code_clone)
        cls.instance = cls.env["devops.instance"].create(
            {
                "name": "Hostile instance",
                "workspace_id": cls.workspace.id,
                "port": 18090,
                "start_command": "echo {port} {database}",
                "database": "hostile_db",
            }
        )
        # The debug dialog's runs on an instance of their own: an instance's runs go one at
        # a time, two instances' side by side.
        cls.instance2 = cls.instance.copy({"port": 18092})
        cls.ssh = cls.env["devops.machine"].create(
            {"name": "Hostile SSH", "kind": "ssh", "host": "ssh.example.com"}
        )
        # Fields are swept on records of their own: accepted values stay (each run queued by
        # an accepted value must stay too, to run at the end), the others' records not.
        cls.scratch_workspace = cls.make_workspace(name="Scratch", path="/srv/scratch")
        cls.repo = cls.env["devops.workspace.repo"].create(
            {"workspace_id": cls.scratch_workspace.id, "url": "https://example.com/x.git"}
        )
        cls.scratch = cls.env["devops.instance"].create(
            {"name": "Scratch", "workspace_id": cls.scratch_workspace.id, "port": 18091}
        )

    def sweep(self, label, call):
        """Call ``call(value)`` for every value; returns how many were accepted."""
        accepted, started = 0, time.monotonic()
        for value in self.values:
            try:
                with self.env.cr.savepoint():
                    call(value)
                    self.env.flush_all()
                accepted += 1
            except (UserError, ValidationError) as error:
                message = str(error.args[0] if error.args else error)
                self.assertTrue(message.strip(), f"{label}({value!r}): an empty message")
                for word in INTERNAL:
                    self.assertNotIn(word, message, f"{label}({value!r}): {message}")
            except Exception as error:
                self.fail(f"{label}({value!r}) raised {type(error).__name__}: {error}")
        _logger.info(
            "%s: %s of %s values accepted (%.1f s)",
            label,
            accepted,
            len(self.values),
            time.monotonic() - started,
        )
        return accepted

    def test_sweep(self):
        self.assertGreaterEqual(len(self.values), 1000)
        user = self.local_user
        manager = self.devops_manager
        machine = self.local_machine.with_user(user)
        workspace = self.workspace.with_user(user)
        instance = self.instance.with_user(user)
        run = self.env["devops.exec"].browse(machine.exec_command(["true"]))
        targets = {
            # Public methods (as a DevOps user allowed to run commands here).
            "exec_command(cwd)": lambda v: machine.exec_command(["true"], cwd=v),
            "exec_command(timeout)": lambda v: machine.exec_command(["true"], timeout=v),
            "exec_command(stage)": lambda v: machine.exec_command(["true"], stage=v),
            "workspace.exec_command(timeout)": lambda v: workspace.exec_command("true", timeout=v),
            "workspace.exec_command(stage)": lambda v: workspace.exec_command("true", stage=v),
            "debug_command(timeout)": lambda v: workspace.debug_command("true", timeout=v),
            "debug_start(test_tags)": lambda v: instance.debug_start(test_tags=v),
            "debug_start(timeout)": lambda v: instance.debug_start(timeout=v),
            "update(ref)": lambda v: instance.update_code(ref=v, update_command=""),
            "update(modules)": lambda v: instance.update_code(modules=v, update_command=""),
            "update(health_wait)": lambda v: instance.update_code(health_wait=v, update_command=""),
            "source_context(around)": lambda v: run.source_context(around=v),
            "accept_host_key(fingerprint)": lambda v: self.ssh.with_user(
                manager
            ).action_accept_host_key(v),
            # Writable fields (as a manager).
            "machine.host": lambda v: self.ssh.with_user(manager).write({"host": v}),
            "machine.port": lambda v: self.ssh.with_user(manager).write({"port": v}),
            "machine.ssh_user": lambda v: self.ssh.with_user(manager).write({"ssh_user": v}),
            "machine.host_key": lambda v: self.ssh.with_user(manager).write({"host_key": v}),
            "machine.ssh_private_key": lambda v: self.ssh.with_user(manager).write(
                {"ssh_private_key": v}
            ),
            "workspace.path": lambda v: self.scratch_workspace.with_user(manager).write(
                {"path": v}
            ),
            "instance.port": lambda v: self.scratch.with_user(manager).write({"port": v}),
            "instance.database": lambda v: self.scratch.with_user(manager).write({"database": v}),
            "instance.image": lambda v: self.scratch.with_user(manager).write(
                {"kind": "docker", "image": v}
            ),
            "instance.url": lambda v: self.scratch.with_user(manager).write({"url": v}),
            "instance.health_url": lambda v: self.scratch.with_user(manager).write(
                {"health_url": v}
            ),
            "instance.container_port": lambda v: self.scratch.with_user(manager).write(
                {"container_port": v}
            ),
            "exec wizard": lambda v: (
                self.env["devops.exec.wizard"]
                .with_user(user)
                .create({"machine_id": self.local_machine.id, "command": "true", "timeout": v})
                .action_run()
            ),
            "update wizard": lambda v: (
                self.env["devops.update.wizard"]
                .with_user(user)
                .create({"instance_id": self.instance.id, "ref": v, "update_command": False})
                .action_run()
            ),
            "code wizard branch": lambda v: self._code_wizard(
                user, {"new_branch": v}
            ).action_create_branch(),
            "code wizard author": lambda v: self._code_wizard(
                user,
                {
                    "author": v,
                    "message": "m",
                    "file_ids": [(0, 0, {"path": "no-such-file", "selected": True})],
                },
            ).action_commit(),
            "code wizard message": lambda v: self._code_wizard(
                user,
                {
                    "message": v,
                    "file_ids": [(0, 0, {"path": "no-such-file", "selected": True})],
                },
            ).action_commit(),
            "debug wizard test_tags": lambda v: (
                self.env["devops.debug.wizard"]
                .with_user(user)
                .create(
                    {
                        "workspace_id": self.workspace.id,
                        "instance_id": self.instance2.id,
                        "mode": "instance",
                        "test_tags": v,
                    }
                )
                .action_run()
            ),
            # Code and Build: repositories, refs, repos.yaml, the new instance dialog.
            "repo.url": lambda v: self.repo.with_user(manager).write({"url": v}),
            "repo.branch": lambda v: self.repo.with_user(manager).write({"branch": v}),
            "repo.folder": lambda v: self.repo.with_user(manager).write({"folder": v}),
            "repo.depth": lambda v: self.repo.with_user(manager).write({"depth": v}),
            "repo.token": lambda v: self.repo.with_user(manager).write({"token": v}),
            "changed_modules(from_ref)": lambda v: workspace.changed_modules(v, "HEAD"),
            "import_repos_yaml": lambda v: self.scratch_workspace.with_user(
                manager
            ).import_repos_yaml(v),
            "new instance": lambda v: self._new_instance_check(
                manager, {"database": v, "modules": v, "lang": v, "db_host": v}
            ),
        }
        accepted = {label: self.sweep(label, call) for label, call in targets.items()}
        # Whatever was accepted ran for real: no payload may have executed.
        started = time.monotonic()
        ran = self.run_all(timeout=600, parallel=8)
        _logger.info("%s runs queued by accepted values (%.1f s)", ran, time.monotonic() - started)
        self.assertEqual(os.listdir(self.canary), [], accepted)
        self.assertFalse(self.env["devops.exec"].search([("state", "in", ("queued", "running"))]))
        # Values were refused where they must be: nothing hostile got into these.
        for label in (
            "machine.host",
            "machine.ssh_user",
            "instance.database",
            "update(ref)",
            "repo.url",
            "repo.folder",
            "changed_modules(from_ref)",
            "new instance",
        ):
            self.assertLess(accepted[label], len(self.values) // 10, label)

    def _new_instance_check(self, user, values):
        wizard = (
            self.env["devops.instance.new.wizard"]
            .with_user(user)
            .create({"workspace_id": self.scratch_workspace.id, "name": "x", "port": 18092})
        )
        self.scratch_workspace.sudo().odoo_path = "/srv/scratch/odoo"
        wizard.write(values)
        wizard._check()

    def _code_wizard(self, user, values):
        wizard = (
            self.env["devops.code.wizard"]
            .with_user(user)
            .create({"workspace_id": self.code_workspace.id})
        )
        wizard.write(values)
        return wizard
