"""Built-in pipeline actions: one small method per action, found by name.

``@action(name, label)`` registers ``_action_<name>(step)``, which starts the step and
returns an ``Outcome``: a queued run of the execution log (``exec``: the step waits for it),
``done``, ``skipped``, ``failed``, or ``wait`` (check again later: ``_check_<name>(step)``
is called by the pipeline cron at the time given, until it answers something else).  When
the step's run ends, ``_after_<name>(step, run)`` (if defined) turns it into the step's
outcome; by default a run that succeeded is ``done`` and any other is ``failed``.

Later stages add their actions here the same way (build, test, release…).
"""

import datetime
import shlex
from typing import NamedTuple

from odoo import api, fields, models

from ..engine import git, probe, service

ACTIONS = {}  # name: (label, target kinds)
CONDITIONS = {
    "code_changed": "The code changed",
    "requirements_changed": "requirements.txt changed",
    "modules_changed": "Modules to update",
}
DEFAULT_PIP = "python3 -m pip install -r requirements.txt"
WAIT_INTERVAL = 2  # seconds between two checks of a waiting step


def action(name, label, targets=("workspace", "instance")):
    def register(method):
        ACTIONS[name] = (label, targets)
        return method

    return register


class Outcome(NamedTuple):
    kind: str  # exec, done, skipped, failed, wait
    message: str = ""
    exec_id: int = 0
    wait: float = 0.0  # seconds until the next check, for "wait"


def done(message=""):
    return Outcome("done", message)


def failed(message):
    return Outcome("failed", message)


def skipped(message):
    return Outcome("skipped", message)


class DevopsPipelineActions(models.AbstractModel):
    _name = "devops.pipeline.actions"
    _description = "DevOps pipeline built-in actions"

    # --- Dispatch ------------------------------------------------------------------------

    @api.model
    def _start(self, step):
        return getattr(self, f"_action_{step.action}")(step)

    @api.model
    def _after(self, step, run):
        hook = getattr(self, f"_after_{step.action}", None)
        if run.state != "done":
            on_failure = getattr(self, f"_failed_{step.action}", None)
            if on_failure:
                return on_failure(step, run)
            return failed(run._problem())
        return hook(step, run) if hook else done()

    @api.model
    def _check(self, step):
        return getattr(self, f"_check_{step.action}")(step)

    @api.model
    def _queue(self, step, argv, instance_action=None, env=None, title=None):
        """Queue ``argv`` (or a shell line) in the step's target folder, as the run's user;
        the step waits for it.  ``env``: the variables to add (default: git's); ``title``:
        the run's title after the pipeline run's name (default: the step's name)."""
        run = step.run_id
        Exec = self.env["devops.exec"].with_user(run.user_id).sudo()
        instance = run.instance_id
        exec_id = Exec._enqueue(
            run.machine_id,
            argv,
            cwd=run.workspace_id.path,
            timeout=step.timeout,
            stage=run.stage_id,
            workspace=run.workspace_id,
            instance=instance if instance_action else None,
            action=instance_action,
            env=git.GIT_ENV if env is None else env,
            builtin=True,
            owner=step,
            title=f"{run.name}: {title or step.name}",
        )
        return Outcome("exec", exec_id=exec_id)

    @api.model
    def _read_git(self, step, argv):
        ok, out, _run = step.run_id.workspace_id._git(argv, record=False)
        return out if ok else None

    # --- Git -------------------------------------------------------------------------------

    @action("git_checkout", "Git: pull, or check out a ref")
    def _action_git_checkout(self, step):
        run = step.run_id
        if run.workspace_id.repo_ids and not run.workspace_id.git_root:
            return self._multi_checkout(step)  # repositories in sub-folders
        head = self._read_git(step, git.head_argv())
        if not head:
            return failed(self.env._("%(path)s is not a git checkout.", path=run.workspace_id.path))
        commit, branch = [*head.split(), "", ""][:2]
        run._set_data(old_commit=commit, old_branch=branch)
        try:
            return self._queue(step, git.checkout_argv(run._param("ref") or None))
        except git.GitInputError as error:
            return failed(str(error))

    @api.model
    def _after_git_checkout(self, step, _run):
        run = step.run_id
        if "old_heads" in run._data():
            return self._after_multi_checkout(step)
        head = self._read_git(step, git.head_argv()) or ""
        new = head.split()[0] if head else ""
        old = run._data().get("old_commit")
        changed = []
        if old and new and old != new:
            out = self._read_git(step, git.changed_argv(old, new)) or ""
            changed = [path for path in out.split("\0") if path]
        run._set_data(new_commit=new, changed=changed)
        if old == new:
            return done(self.env._("Already at %(commit)s.", commit=new[:10]))
        return done(
            self.env._(
                "%(old)s → %(new)s, %(count)s files changed.",
                old=(old or "?")[:10],
                new=new[:10],
                count=len(changed),
            )
        )

    @action("rollback_code", "Git: back to the commit before the run")
    def _action_rollback_code(self, step):
        data = step.run_id._data()
        if "old_heads" in data:
            return self._multi_rollback(step)
        if not data.get("old_commit"):
            return failed(self.env._("Nothing to roll back to: the code was never moved."))
        try:
            argv = git.rollback_argv(data.get("old_branch"), data["old_commit"])
        except git.GitInputError as error:
            return failed(str(error))
        return self._queue(step, argv)

    @api.model
    def _after_rollback_code(self, step, _run):
        if "old_heads" in step.run_id._data():
            return done(self.env._("Every repository is back at its commit before the run."))
        commit = step.run_id._data().get("old_commit", "")
        return done(self.env._("Back at %(commit)s.", commit=commit[:10]))

    # --- Python and Odoo -----------------------------------------------------------------

    @action("pip_install", "pip install the requirements")
    def _action_pip_install(self, step):
        command = step.run_id._param("pip_command")
        if command is None:
            command = DEFAULT_PIP
        if not command:
            return skipped(self.env._("No pip command."))
        build = step.run_id.instance_id.build_id
        if command == DEFAULT_PIP and build:  # the build's virtualenv, not the machine's
            return self._pip_into_build(step, build)
        return self._queue(step, command)

    @action("odoo_update", "Odoo: update the changed (or given) modules", ("instance",))
    def _action_odoo_update(self, step):
        run = step.run_id
        modules = run._modules_to_update()
        if not modules:
            return skipped(self.env._("No module to update."))
        command = run._param("update_command")
        if command is None:
            command = default_update_command(run.instance_id)
        if not command:
            return skipped(self.env._("No update command (the instance has no start command)."))
        command = command.replace("{modules}", shlex.quote(",".join(modules)))
        return self._queue(step, command)

    @api.model
    def _after_odoo_update(self, step, _run):
        return done(
            self.env._("Updated: %(modules)s.", modules=", ".join(step.run_id._modules_to_update()))
        )

    # --- The instance --------------------------------------------------------------------

    @action("restart", "Restart the instance", ("instance",))
    def _action_restart(self, step):
        instance = step.run_id.instance_id
        outcome = self._queue(step, instance._restart_argv(), instance_action="restart")
        instance._set_state("restarting", restart_given_up=False)
        return outcome

    @action("wait_healthy", "Wait until the instance is healthy", ("instance",))
    def _action_wait_healthy(self, step):
        wait = step.run_id._param("health_wait")
        wait = int(wait) if isinstance(wait, int | float) and not isinstance(wait, bool) else 60
        deadline = fields.Datetime.now() + datetime.timedelta(seconds=max(1, min(wait, 3600)))
        step.wait_deadline = deadline
        return Outcome("wait", wait=0)

    @api.model
    def _check_wait_healthy(self, step):
        instance = step.run_id.instance_id
        machine = instance.machine_id
        host = "localhost" if machine.kind == "local" else machine.host
        timeout = float(instance._param("health_timeout", 5))
        result = probe.probe(host, instance.port, instance.health_url, timeout=timeout)
        if result.healthy or (result.port_open and not instance.health_url):
            instance._set_state("running", last_error=False)
            return done(self.env._("Healthy."))
        if fields.Datetime.now() >= step.wait_deadline:
            return failed(
                self.env._(
                    "Not healthy after the restart: %(reason)s",
                    reason=result.error or self.env._("no answer"),
                )
            )
        left = int((step.wait_deadline - fields.Datetime.now()).total_seconds())
        return Outcome(
            "wait",
            self.env._(
                'Not healthy yet (%(reason)s); checked again by the cron "DevOps: advance '
                'pipelines" (Odoo wakes it within about a minute), until %(left)s s from now.',
                reason=result.error or self.env._("no answer"),
                left=left,
            ),
            wait=WAIT_INTERVAL,
        )


def default_update_command(instance):
    """The instance's start command, updating the modules and stopping after init."""
    if instance.kind != "process" or not instance.start_command:
        return ""
    command = service.expand(instance.start_command, instance.port, instance.database)
    return f"{command} -u {{modules}} --stop-after-init"
