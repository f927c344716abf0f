"""An update of an instance: git pull or checkout, pip when requirements.txt changed,
odoo-bin -u of the changed (or chosen) modules, restart, health check — each step a run of
the execution log (stage Deploy), the next queued when the previous one succeeds.

A failing step stops the update and says which.  When the instance is not healthy after
the restart, the update rolls back by itself: the workspace returns to the commit it had
before and the instance restarts.  "Roll back" does the same by hand.  Caveat: a rollback
restores the code, not a database already upgraded by the new code.
"""

import re
import shlex
import time

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..engine import git, probe, service

MODULE_NAME = re.compile(r"[A-Za-z0-9_]+")
MODULES = re.compile(r"[A-Za-z0-9_]+(,[A-Za-z0-9_]+)*")
DEFAULT_PIP = "python3 -m pip install -r requirements.txt"

STEPS = [
    ("checkout", "Checkout"),
    ("pip", "Python requirements"),
    ("modules", "Update modules"),
    ("restart", "Restart"),
    ("health", "Health check"),
    ("rollback", "Roll back"),
    ("rollback_restart", "Restart after roll back"),
]


class DevopsUpdate(models.Model):
    _name = "devops.update"
    _inherit = ["devops.input.mixin"]
    _description = "DevOps Instance Update"
    _order = "id desc"
    _rec_name = "instance_id"

    instance_id = fields.Many2one("devops.instance", required=True, readonly=True, index=True)
    workspace_id = fields.Many2one(related="instance_id.workspace_id")
    user_id = fields.Many2one("res.users", required=True, readonly=True)
    ref = fields.Char(
        string="Branch, tag or commit", readonly=True, help="Empty: pull the current branch."
    )
    modules = fields.Char(readonly=True, help="Modules updated with -u (comma-separated).")
    pip_command = fields.Char(readonly=True)
    update_command = fields.Text(readonly=True)
    health_wait = fields.Integer(string="Health wait (s)", readonly=True, aggregator=None)
    state = fields.Selection(
        [
            ("running", "Running"),
            ("done", "Done"),
            ("failed", "Failed"),
            ("rolled_back", "Rolled back"),
        ],
        default="running",
        required=True,
        readonly=True,
    )
    step = fields.Selection(STEPS, readonly=True)
    failed_step = fields.Selection(STEPS, readonly=True)
    message = fields.Text(readonly=True)
    old_commit = fields.Char(readonly=True)
    old_branch = fields.Char(readonly=True)
    new_commit = fields.Char(readonly=True)
    exec_ids = fields.One2many("devops.exec", "update_id", string="Steps", readonly=True)

    # --- Steps -------------------------------------------------------------------------

    def _queue(self, step, argv, action=None):
        self.ensure_one()
        self.sudo().step = step
        instance = self.instance_id.sudo()
        Exec = self.env["devops.exec"].with_user(self.user_id).sudo()
        run_id = Exec._enqueue(
            instance.machine_id,
            argv,
            cwd=instance.workspace_id.path,
            stage="deploy",
            workspace=instance.workspace_id,
            instance=instance if action else None,
            action=action,
            env=git.GIT_ENV,
            builtin=True,
            owner=self,
        )
        Exec.browse(run_id).sudo().write({"update_id": self.id, "update_step": step})
        return run_id

    def _git_now(self, argv):
        ok, out, _run = self.instance_id.workspace_id._git(argv, record=False)
        return out if ok else None

    def _start(self):
        head = self._git_now(git.head_argv())
        if not head:
            raise UserError(
                self.env._("%(path)s is not a git checkout.", path=self.workspace_id.path)
            )
        commit, branch = [*head.split(), "", ""][:2]
        self.write({"old_commit": commit, "old_branch": branch})
        self._queue("checkout", git.checkout_argv(self.ref or None))

    def _on_step_done(self, run):
        """Called by the runner when a step's run ends: queue the next step, or stop."""
        self.ensure_one()
        step = run.update_step
        if step in ("rollback", "rollback_restart"):
            return self._on_rollback_step(run)
        if run.state != "done":
            self._fail(step, _run_problem(run))
            if step == "restart":  # the new code does not start: back to the old one
                self._rollback()
            return None
        if step == "checkout":
            head = self._git_now(git.head_argv()) or ""
            self.new_commit = head.split()[0] if head else False
            changed = self._changed_files()
            if "requirements.txt" in changed and self.pip_command:
                return self._queue("pip", ["/bin/sh", "-c", self.pip_command])
            return self._after_pip(changed)
        if step == "pip":
            return self._after_pip(self._changed_files())
        if step == "modules":
            return self._queue("restart", self.instance_id._restart_argv(), "restart")
        if step == "restart":
            return self._health_check()
        return None

    def _changed_files(self):
        if not (self.old_commit and self.new_commit) or self.old_commit == self.new_commit:
            return []
        out = self._git_now(git.changed_argv(self.old_commit, self.new_commit)) or ""
        return [path for path in out.split("\0") if path]

    def _after_pip(self, changed):
        modules = self.modules
        if not modules and changed:
            found = self._git_now(git.modules_argv(changed)) or ""
            # Folder names come from the repository: only real module names go further.
            modules = ",".join(name for name in found.splitlines() if MODULE_NAME.fullmatch(name))
            self.modules = modules or False
        if modules and self.update_command:
            command = self.update_command.replace("{modules}", shlex.quote(modules))
            return self._queue("modules", ["/bin/sh", "-c", command])
        return self._queue("restart", self.instance_id._restart_argv(), "restart")

    def _health_check(self):
        self.step = "health"
        instance = self.instance_id
        host = "localhost" if instance.machine_id.kind == "local" else instance.machine_id.host
        deadline = time.monotonic() + max(1, self.health_wait)
        result = None
        while time.monotonic() < deadline:
            result = probe.probe(host, instance.port, instance.health_url, timeout=5)
            if result.healthy or (result.port_open and not instance.health_url):
                self.write({"state": "done", "message": self.env._("Updated and healthy.")})
                instance._set_state("running", last_error=False)
                return
            time.sleep(1)
        reason = result.error if result else ""
        self._fail("health", self.env._("Not healthy after the restart: %(reason)s", reason=reason))
        self._rollback()

    def _fail(self, step, message):
        self.sudo().write({"state": "failed", "failed_step": step, "message": message})

    def _on_exec_hook_failed(self, run, error):
        """The step's result could not be handled: the update stops there, saying why."""
        self._fail(
            run.update_step,
            self.env._(
                "Internal error after the step %(step)s: %(error)s",
                step=run.update_step,
                error=error,
            ),
        )

    # --- Roll back -----------------------------------------------------------------------

    def action_rollback(self):
        self._ensure_one_existing()
        self.check_access("read")
        if not self.old_commit:
            raise UserError(self.env._("Nothing to roll back to: the update did not start."))
        if self.state == "running":
            raise UserError(self.env._("The update is still running: wait for its end."))
        self.sudo()._rollback()

    def _rollback(self):
        self._queue("rollback", git.rollback_argv(self.old_branch, self.old_commit))

    def _on_rollback_step(self, run):
        if run.state != "done":
            self.message = (
                (self.message or "")
                + "\n"
                + self.env._("The roll back failed too: %(error)s", error=_run_problem(run))
            )
            return
        if run.update_step == "rollback":
            self._queue("rollback_restart", self.instance_id._restart_argv(), "restart")
            return
        self.state = "rolled_back"
        self.message = (
            (self.message or "")
            + "\n"
            + self.env._("Rolled back to %(commit)s and restarted.", commit=self.old_commit[:10])
        )

    def _on_exec_done(self, run):
        """Generic owner hook (devops.exec res_model/res_id): the step ended."""
        self._on_step_done(run)

    @api.model
    def _default_update_command(self, instance):
        """The instance's start command, updating the modules and stopping after init."""
        if instance.kind != "process" or not instance.start_command:
            return False
        command = service.expand(instance.start_command, instance.port, instance.database)
        return f"{command} -u {{modules}} --stop-after-init"


def _run_problem(run):
    """Why a run did not succeed, in its own words."""
    if run.error_message:
        return run.error_message
    tail = (run.output_stderr or run.output or "").strip()[-2000:]
    state = dict(run._fields["state"]._description_selection(run.env)).get(run.state, run.state)
    return f"{state}: {tail}" if tail else state
