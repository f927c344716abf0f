"""A run of a pipeline, and how it advances.

``_launch`` checks who may run what where, takes the target's lock (at most one active run
per instance, or per workspace for workspace pipelines: a unique index on ``lock_key``),
copies the steps and advances.  ``_advance`` starts steps in order until one must be waited
for: a step's command (or an action's) is a run of the execution log whose owner is the
step, so the runner tells the step when it ends (``_on_exec_done``, in a transaction of its
own, after the result is committed), and the run advances from there.  A step that waits
(``wait_healthy``) sets the run ``waiting``; the cron *DevOps: advance pipelines* checks it
again at the time it asked (``ir.cron._trigger(at=…)``), never sleeping.

A failed step does what it says: stop (the rest is skipped), continue, or roll back (the
pipeline's rollback steps run in order; the run ends ``rolled_back``).  Cancel stops the
current step's command and skips the rest, then rolls back when the step says so.
"""

import datetime
import json
import logging
import re
import time

from psycopg2.errors import TransactionRollbackError

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

from ..engine import git
from .devops_pipeline_actions import DEFAULT_PIP, Outcome, failed
from .utils import form_action

_logger = logging.getLogger(__name__)

ACTIVE = ("queued", "running", "waiting")
USER = "erplibre_devops.group_devops_user"
MANAGER = "erplibre_devops.group_devops_manager"
MODULE_NAME = re.compile(r"[A-Za-z0-9_]+")
FOLLOW_UP = 5  # seconds: a waiting step due sooner brings the cron back at once
COMMAND_PARAMS = {"pip_command": DEFAULT_PIP, "update_command": None}


# Records told when a run that names them (parameter: its id) ends: (model, method).
PIPELINE_OWNERS = {
    "deployment_id": ("devops.deployment", "_on_pipeline_end"),
    "release_id": ("devops.release", "_on_pipeline_end"),
    "refresh_instance_id": ("devops.instance", "_on_refresh_end"),
}


class DevopsPipelineRun(models.Model):
    _name = "devops.pipeline.run"
    _inherit = ["devops.input.mixin"]
    _description = "DevOps Pipeline Run"
    _order = "id desc"

    name = fields.Char(readonly=True)
    pipeline_id = fields.Many2one("devops.pipeline", required=True, readonly=True, index=True)
    stage_id = fields.Many2one(related="pipeline_id.stage_id", store=True, index=True)
    workspace_id = fields.Many2one("devops.workspace", required=True, readonly=True, index=True)
    instance_id = fields.Many2one("devops.instance", readonly=True, index=True)
    machine_id = fields.Many2one("devops.machine", required=True, readonly=True, index=True)
    user_id = fields.Many2one(
        "res.users", string="Launched by", required=True, readonly=True, index=True
    )
    state = fields.Selection(
        [
            ("queued", "Queued"),
            ("running", "Running"),
            ("waiting", "Waiting"),
            ("done", "Done"),
            ("failed", "Failed"),
            ("cancelled", "Cancelled"),
            ("rolled_back", "Rolled back"),
        ],
        required=True,
        default="queued",
        readonly=True,
        index=True,
    )
    date_start = fields.Datetime(string="Started", readonly=True)
    date_end = fields.Datetime(string="Ended", readonly=True)
    duration = fields.Float(string="Duration (s)", readonly=True, aggregator=None)
    failed_step_id = fields.Many2one("devops.pipeline.run.step", readonly=True)
    message = fields.Text(readonly=True)
    params = fields.Text(string="Parameters (JSON)", readonly=True)
    data = fields.Text(string="Facts (JSON)", readonly=True, help="What the steps found.")
    step_ids = fields.One2many("devops.pipeline.run.step", "run_id", string="Steps", readonly=True)
    current_step_id = fields.Many2one("devops.pipeline.run.step", readonly=True)
    rolling_back = fields.Boolean(readonly=True)
    cancel_requested = fields.Boolean(readonly=True, copy=False)
    wait_until = fields.Datetime(readonly=True, index=True)
    lock_key = fields.Char(
        readonly=True,
        copy=False,
        help="The target this run holds while active ('instance:5', 'workspace:3').",
    )
    has_rollback = fields.Boolean(
        compute="_compute_has_rollback",
        help="Whether Roll back is offered: the pipeline has rollback steps and this is the "
        "latest run on its target.",
    )
    rollback_to = fields.Char(
        compute="_compute_has_rollback", help="The commit a roll back goes back to."
    )

    _sql_constraints = [
        (
            "one_active_run_per_target",
            "unique(lock_key)",
            "Another pipeline run is active on this target: wait for its end or cancel it.",
        ),
    ]

    @api.depends("step_ids.rollback", "state")
    def _compute_has_rollback(self):
        for run in self:
            latest = run._latest_on_target()
            run.has_rollback = latest == run and any(run.step_ids.mapped("rollback"))
            run.rollback_to = (run._data().get("old_commit") or "")[:10] or False

    def _latest_on_target(self):
        """The newest run on this run's target (instance, else workspace)."""
        domain = (
            [("instance_id", "=", self.instance_id.id)]
            if self.instance_id
            else [("workspace_id", "=", self.workspace_id.id), ("instance_id", "=", False)]
        )
        return self.sudo().search(domain, order="id desc", limit=1).with_env(self.env)

    # --- Facts and parameters --------------------------------------------------------------

    def _params(self):
        return json.loads(self.params or "{}")

    def _param(self, name):
        return self._params().get(name)

    def _data(self):
        return json.loads(self.data or "{}")

    def _set_data(self, **values):
        self.data = json.dumps({**self._data(), **values})

    def _modules_to_update(self):
        """The given modules, else those holding the files the checkout changed."""
        data = self._data()
        if "modules" in data:
            return data["modules"]
        given = self._param("modules")
        if given:
            modules = given if isinstance(given, list) else given.split(",")
            modules = [m.strip() for m in modules if m.strip()]
        else:
            changed = data.get("changed") or []
            modules = []
            if changed:
                ok, out, _run = self.workspace_id._git(git.modules_argv(changed), record=False)
                # Folder names come from the repository: only real module names go further.
                modules = [n for n in (out if ok else "").split("\n") if MODULE_NAME.fullmatch(n)]
        self._set_data(modules=modules)
        return modules

    def _placeholders(self):
        values = {
            "workspace_path": self.workspace_id.path,
            "workspace_name": self.workspace_id.name,
        }
        if self.instance_id:
            instance = self.instance_id
            values.update(
                port=instance.port,
                database=instance.database or None,
                instance_name=instance.name,
                url=instance.url or None,
            )
        data = self._data()
        for name in ("old_commit", "new_commit", "old_branch"):
            if data.get(name):
                values[name] = data[name]
        values.update(self._params())
        return values

    # --- Launch ------------------------------------------------------------------------------

    @api.model
    def _launch(self, pipeline, target, params, link=None):
        """``link(run)``: called before the first step starts (the record the run works
        for learns its run: release and deployment steps only work for their own run)."""
        user = self.env.user
        if not self.env.su and not user.has_group(USER):
            raise AccessError(self.env._("Only DevOps users can run pipelines."))
        instance = target if target._name == "devops.instance" else self.env["devops.instance"]
        workspace = instance.workspace_id if instance else target
        machine = workspace.sudo().machine_id
        if not machine.active:
            raise UserError(
                self.env._("The machine %(machine)s is archived.", machine=machine.display_name)
            )
        self._check_params(pipeline, instance, params)
        steps = pipeline.step_ids
        commands = any(step.kind == "command" for step in steps)
        custom = any(
            name in params and params[name] not in ("", default)
            for name, default in COMMAND_PARAMS.items()
        )
        if commands or custom:
            self.env["devops.exec"]._check_may_run_own_commands(machine)
        lock_key = self._lock_key_of(instance, workspace, pipeline)
        self._check_lock(lock_key)
        values = {
            "name": self._run_name(pipeline, target, params),
            "pipeline_id": pipeline.id,
            "workspace_id": workspace.id,
            "instance_id": instance.id or False,
            "machine_id": machine.id,
            "user_id": user.id,
            "params": json.dumps(params),
            "lock_key": lock_key,
            "date_start": fields.Datetime.now(),
            "step_ids": [
                (
                    0,
                    0,
                    {
                        "step_id": step.id,
                        "sequence": step.sequence,
                        "name": step.name,
                        "kind": step.kind,
                        "command": step.command,
                        "action": step.action,
                        "timeout": step.timeout,
                        "on_failure": step.on_failure,
                        "condition": step.condition,
                        "rollback": step.rollback,
                    },
                )
                for step in steps
            ],
        }
        run = self.sudo().create(values)
        run.flush_recordset()  # the unique lock_key: a launch at the same moment fails here
        if link:
            link(run)
        run._advance()
        return run.with_env(self.env)

    @api.model
    def _lock_key_of(self, instance, workspace, pipeline=None):
        """What an active run holds: its instance, else its workspace; a test run holds
        the workspace's tests (one at a time, beside the build it waits for)."""
        if pipeline and pipeline.code == "test" and not instance:
            return f"tests:{workspace.id}"
        return f"instance:{instance.id}" if instance else f"workspace:{workspace.id}"

    @api.model
    def _check_lock(self, lock_key):
        active = self.sudo().search([("lock_key", "=", lock_key)], limit=1)
        if active:
            raise UserError(
                self.env._(
                    "%(run)s (launched by %(user)s) is still %(state)s on this target: wait "
                    "for its end or cancel it.",
                    run=active.name,
                    user=active.user_id.name,
                    state=dict(active._fields["state"]._description_selection(self.env))[
                        active.state
                    ],
                )
            )

    @api.model
    def _check_params(self, pipeline, instance, params):
        ref = params.get("ref")
        if ref is not None:
            try:
                git.check_ref_name(ref)
            except git.GitInputError as error:
                raise UserError(str(error)) from error
        modules = params.get("modules")
        if modules is not None:
            names = modules if isinstance(modules, list) else str(modules).split(",")
            names = [name.strip() for name in names if name.strip()]
            if not all(MODULE_NAME.fullmatch(name) for name in names):
                raise UserError(
                    self.env._(
                        "'%(modules)s' is not a list of module names, such as sale,stock.",
                        modules=modules,
                    )
                )
            params["modules"] = names
        wait = params.get("health_wait")
        if wait is not None and (
            isinstance(wait, bool) or not isinstance(wait, int) or not 1 <= wait <= 3600
        ):
            raise UserError(
                self.env._("The health wait is from 1 to 3600 seconds, not %(value)r.", value=wait)
            )
        for name in COMMAND_PARAMS:
            value = params.get(name)
            if value is not None and not isinstance(value, str):
                raise UserError(self.env._("%(name)s must be a shell command (text).", name=name))
        if pipeline.target == "instance" and not instance:
            raise UserError(
                self.env._("The pipeline %(name)s runs on an instance.", name=pipeline.name)
            )

    @api.model
    def _run_name(self, pipeline, target, params):
        if params.get("ref"):
            return self.env._(
                "%(pipeline)s %(target)s to %(ref)s",
                pipeline=pipeline.name,
                target=target.name,
                ref=params["ref"],
            )
        return f"{pipeline.name} {target.name}"

    # --- Advance -----------------------------------------------------------------------------

    def _next_step(self):
        pending = self.step_ids.filtered(
            lambda s: s.state == "pending" and s.rollback == self.rolling_back
        )
        return pending.sorted(lambda s: (s.sequence, s.id))[:1]

    def _advance(self):
        """Start steps in order until one must be waited for, or the run ends."""
        self.ensure_one()
        while self.state in ("queued", "running"):
            if self.cancel_requested and not self.rolling_back:
                self._stop(cancelled=True)
                return
            step = self._next_step()
            if not step:
                self._end()
                return
            self.write({"state": "running", "current_step_id": step.id})
            if not self._condition_met(step):
                step._set("skipped", self.env._("Condition not met."))
                continue
            if not self._apply(step, self._start_step(step)):
                return

    def _condition_met(self, step):
        if not step.condition:
            return True
        data = self._data()
        if step.condition == "code_changed":
            return bool(data.get("changed"))
        if step.condition == "requirements_changed":
            changed = data.get("changed") or []
            if "old_heads" in data:  # several repositories: any of their requirement files
                return any(path.endswith("/requirements.txt") for path in changed)
            return "requirements.txt" in changed
        if step.condition == "modules_changed":
            return bool(self._modules_to_update())
        return True

    def _start_step(self, step):
        step.write({"state": "running", "date_start": fields.Datetime.now(), "message": False})
        try:
            with self.env.cr.savepoint():
                if step.kind == "action":
                    return self.env["devops.pipeline.actions"]._start(step)
                return self._start_command(step)
        except (UserError, ValueError) as error:
            return failed(str(error))
        except TransactionRollbackError:
            raise  # a concurrent update: the whole transaction is tried again
        except Exception as error:
            _logger.exception("devops.pipeline.run %s: step %s failed to start", self.id, step.id)
            return failed(self.env._("Internal error: %(error)s", error=error))

    def _start_command(self, step):
        from ..engine import pipeline as engine  # noqa: PLC0415 - a small module

        command = engine.fill(step.command, self._placeholders())
        step.command = command
        return self.env["devops.pipeline.actions"]._queue(step, command)

    def _apply(self, step, outcome):
        """Record ``outcome`` on ``step``; True when the run may go on at once."""
        if outcome.kind == "exec":
            step.write({"state": "running", "exec_id": outcome.exec_id})
            return False
        if outcome.kind == "wait":
            at = fields.Datetime.now() + datetime.timedelta(seconds=outcome.wait)
            step.write({"state": "waiting", "message": outcome.message or False})
            self.write({"state": "waiting", "wait_until": at})
            self.env.ref("erplibre_devops.ir_cron_pipeline_advance").sudo()._trigger(at)
            return False
        if outcome.kind in ("done", "skipped"):
            step._set(outcome.kind, outcome.message)
            return True
        step._set("cancelled" if outcome.kind == "cancelled" else "failed", outcome.message)
        return self._step_failed(step, outcome.message, cancelled=outcome.kind == "cancelled")

    def _step_failed(self, step, message, cancelled=False):
        """What the failed (or cancelled) ``step`` says to do; True to go on at once."""
        if self.rolling_back:
            self.message = "\n".join(
                filter(
                    None,
                    [self.message, self.env._("The roll back failed: %(error)s", error=message)],
                )
            )
            self._skip_pending()
            self._close("failed")
            return False
        if not self.failed_step_id:
            self.write({"failed_step_id": step.id, "message": message})
        if step.on_failure == "continue" and not cancelled:
            return True
        self._skip_pending()
        if step.on_failure == "rollback" and self.step_ids.filtered("rollback"):
            self.write({"rolling_back": True, "state": "running"})
            return True
        self._close("cancelled" if cancelled else "failed")
        return False

    def _skip_pending(self):
        self.step_ids.filtered(
            lambda s: s.state == "pending" and s.rollback == self.rolling_back
        )._set("skipped", self.env._("Not run."))

    def _stop(self, cancelled):
        self._skip_pending()
        if cancelled and not self.message:
            self.message = self.env._("Cancelled.")
        self._close("cancelled")

    def _end(self):
        if self.rolling_back:
            self.message = "\n".join(filter(None, [self.message, self._rollback_summary()]))
            self._close("rolled_back")
        elif self.failed_step_id:  # failed steps that said "continue"
            self._close("done")
        else:
            last = self.step_ids.filtered(lambda s: s.state == "done" and s.message)[-1:]
            self.message = last.message or self.env._("Done.")
            self._close("done")

    def _rollback_summary(self):
        commit = self._data().get("old_commit")
        if commit:
            return self.env._("Rolled back to %(commit)s.", commit=commit[:10])
        return self.env._("Rolled back.")

    def _close(self, state):
        if state != "rolled_back":  # rollback steps that were not needed: none will run
            self.step_ids.filtered(lambda s: s.rollback and s.state == "pending")._set(
                "skipped", self.env._("Not needed.")
            )
        now = fields.Datetime.now()
        self.write(
            {
                "state": state,
                "date_end": now,
                "duration": (now - (self.date_start or now)).total_seconds(),
                "lock_key": False,
                "current_step_id": False,
                "wait_until": False,
            }
        )
        self._after_close()

    def _after_close(self):
        """Tell what waits for this run: its build takes the run's state, and the runs
        whose step waits for that build are checked at once; its test run ends."""
        test = self._param_record("test_run_id", "devops.test.run")
        if test and test.run_id in (self, self.browse()):  # ended within its launch
            test.run_id = self
            test._on_run_end(self)
        for param, (model, hook) in PIPELINE_OWNERS.items():
            owner = self._param_record(param, model)
            if owner and owner._pipeline_run_is_mine(self):
                getattr(owner, hook)(self)
        build_id = self._param("build_id")
        if isinstance(build_id, bool) or not isinstance(build_id, int):
            return
        build = self.env["devops.build"].sudo().browse(build_id).exists()
        if not build or build.run_id != self:
            return
        build._on_run_end(self)
        waiting = (
            self.sudo()
            .search(
                [
                    ("state", "=", "waiting"),
                    ("current_step_id.action", "in", ("wait_build", "test_build")),
                ]
            )
            .filtered(lambda r: r._param("build_id") == build_id or r._test_build_id() == build_id)
        )
        if waiting:
            waiting.write({"wait_until": fields.Datetime.now()})
            self.env.ref("erplibre_devops.ir_cron_pipeline_advance").sudo()._trigger()

    def _param_record(self, name, model):
        """The record of model ``model`` whose id is the parameter ``name``, when it belongs
        to this run's workspace; else an empty recordset."""
        self.ensure_one()
        record_id = self._param(name)
        if isinstance(record_id, bool) or not isinstance(record_id, int):
            return self.env[model]
        record = self.env[model].sudo().browse(record_id).exists()
        return record if record.workspace_id == self.workspace_id else self.env[model]

    def _test_build_id(self):
        """The build the test run of this run waits for (its id), or None."""
        return self._param_record("test_run_id", "devops.test.run").build_id.id or None

    # --- Told by the runner, the cron --------------------------------------------------------

    def _step_exec_done(self, step, exec_run):
        """The run of ``step`` ended (called by the runner after its result is committed)."""
        if step.state not in ("running",):
            return
        if exec_run.state == "cancelled":
            outcome = Outcome("cancelled", self.env._("Cancelled."))
        elif step.kind == "action":
            outcome = self.env["devops.pipeline.actions"]._after(step, exec_run)
        elif exec_run.state == "done":
            outcome = Outcome("done", "")
        else:
            outcome = failed(exec_run._problem())
        if self._apply(step, outcome):
            self._advance()

    def _step_hook_failed(self, step, error):
        if step.state in ("running", "waiting") and self.state in ACTIVE:
            if self._apply(step, failed(self.env._("Internal error: %(error)s", error=error))):
                self._advance()

    @api.model
    def _cron_advance(self):
        """Check the waiting steps whose time has come; start runs left queued.  When a
        waiting step is due within FOLLOW_UP seconds, the cron comes back for it (Odoo's
        cron progress: "more to do") instead of a minute later."""
        if self.env.context.get("ir_cron_progress_id"):
            soon = self.search([("state", "=", "waiting")], order="wait_until", limit=1)
            if soon.wait_until:
                wait = (soon.wait_until - fields.Datetime.now()).total_seconds()
                if 0 < wait <= FOLLOW_UP:  # nothing written yet: no lock is held
                    time.sleep(wait)
        started = time.monotonic()
        now = fields.Datetime.now()
        due = self.search(
            [
                "|",
                "&",
                ("state", "=", "waiting"),
                ("wait_until", "<=", now),
                ("state", "=", "queued"),
            ]
        )
        retry = False
        for run in due:
            try:
                with self.env.cr.savepoint():
                    run._wake()
            except TransactionRollbackError:
                retry = True  # a concurrent update: this run is looked at again shortly
            except Exception as error:
                _logger.exception("devops.pipeline.run %s could not advance", run.id)
                run.message = self.env._("Internal error: %(error)s", error=error)
                run._close("failed")
        cron = self.env.ref("erplibre_devops.ir_cron_pipeline_advance").sudo()
        if retry:
            cron._trigger(fields.Datetime.now() + datetime.timedelta(seconds=2))
        later = self.search([("state", "=", "waiting")], order="wait_until", limit=1)
        if later.wait_until:
            cron._trigger(max(later.wait_until, fields.Datetime.now()))
            left = (later.wait_until - fields.Datetime.now()).total_seconds()
            if left <= FOLLOW_UP and time.monotonic() - started < FOLLOW_UP:
                self.env["ir.cron"]._notify_progress(done=len(due), remaining=1)

    def _wake(self):
        if self.state == "queued":
            self._advance()
            return
        step = self.current_step_id
        if self.cancel_requested:
            outcome = Outcome("cancelled", self.env._("Cancelled."))
        else:
            outcome = self.env["devops.pipeline.actions"]._check(step)
        self.state = "running"
        if self._apply(step, outcome):
            self._advance()

    # --- Actions -----------------------------------------------------------------------------

    def action_cancel(self):
        """Cancel: the current step's command is stopped, the rest skipped (then the rollback
        steps run when the cancelled step says so)."""
        self._ensure_one_existing()
        if self.user_id != self.env.user and not self.env.user.has_group(MANAGER):
            raise AccessError(self.env._("Only its author or a DevOps manager can cancel it."))
        if self.state not in ACTIVE:
            return
        run = self.sudo()
        run.cancel_requested = True
        step = run.current_step_id
        if run.state == "waiting" or not step.exec_id:
            run.state = "running" if run.state == "waiting" else run.state
            if step and step.state in ("running", "waiting"):
                if run._apply(step, Outcome("cancelled", self.env._("Cancelled."))):
                    run._advance()
            else:
                run._advance()
        else:
            step.exec_id.action_cancel()

    def action_rollback(self):
        """Run the rollback steps of a finished run again (e.g. back to the code before an
        update)."""
        self._ensure_one_existing()
        if self.state in ACTIVE:
            raise UserError(self.env._("The run is still active: wait for its end."))
        if not any(self.step_ids.mapped("rollback")):
            raise UserError(self.env._("This pipeline has no rollback steps."))
        if self._latest_on_target() != self:
            raise UserError(
                self.env._(
                    "Only the latest run on %(target)s can be rolled back: a later run changed "
                    "it since.",
                    target=(self.instance_id or self.workspace_id).display_name,
                )
            )
        run = self.sudo()
        if any(step.kind == "command" for step in run.step_ids.filtered("rollback")):
            self.env["devops.exec"]._check_may_run_own_commands(run.machine_id)
        lock_key = self._lock_key_of(run.instance_id, run.workspace_id, run.pipeline_id)
        self._check_lock(lock_key)
        run.step_ids.filtered("rollback").write(
            {
                "state": "pending",
                "message": False,
                "exec_id": False,
                "date_start": False,
                "date_end": False,
            }
        )
        run.write(
            {
                "rolling_back": True,
                "state": "running",
                "lock_key": lock_key,
                "cancel_requested": False,
                "date_end": False,
            }
        )
        run._advance()

    def action_open_target(self):
        self._ensure_one_existing()
        return form_action(self.instance_id or self.workspace_id, target="current")
