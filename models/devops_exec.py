"""One run of a command on a machine: the record, how it is queued, cancelled, finished.

How a run goes:

1. ``_enqueue`` (behind ``exec_command``, the wizards, the instances and the pipelines)
   checks who may run what where, creates a ``queued`` record with a random token, and wakes
   the runner cron (``_trigger``); the web request returns at once.
2. The runner (``devops.exec.runner``, models/devops_exec_runner.py) claims it, starts it as
   a detached job on its machine, supervises it (output about once a second, cancel,
   timeout) and attaches to it again after any interruption of its own.
3. ``_finish`` stores how it ended (state, exit code or signal, duration, output head and
   tail, errors parsed from the output, the whole output as an attachment when large); then,
   in a new transaction, ``_notify_owner`` tells its owners: the instance for its lifecycle
   runs, and the record named by ``res_model``/``res_id`` (its ``_on_exec_done(run)``).  An
   owner's exception is logged and reported to it (``_on_exec_hook_failed``), and never
   changes the run's result.

Short commands whose result a screen shows at once (git status, log, diff) run in the
request instead (``_run_now``, bounded), recorded the same way.

Runs are private to their author unless shared (instance runs are); nobody creates, edits or
deletes them through the ORM; ``_run_pending`` is private: only the crons run the runner.
"""

import contextlib
import hashlib
import json
import logging
import math
import os
import secrets
import shlex
import shutil

from psycopg2.errors import TransactionRollbackError

from odoo import api, fields, models, tools
from odoo.exceptions import AccessError, UserError

from ..engine import errors as error_parser
from ..engine import source
from ..engine.executor import ExecError, RunSpec, script_argv
from ..engine.output import STDERR, Capture
from .utils import arg_int, arg_text, form_action

_logger = logging.getLogger(__name__)

FINAL_STATES = ("done", "failed", "timeout", "cancelled", "interrupted")
USER = "erplibre_devops.group_devops_user"
MANAGER = "erplibre_devops.group_devops_manager"
LOCAL = "erplibre_devops.group_devops_local_exec"
MAX_TIMEOUT = 7 * 24 * 3600


STATES = [
    ("queued", "Queued"),
    ("running", "Running"),
    ("done", "Done"),
    ("failed", "Failed"),
    ("timeout", "Timed out"),
    ("cancelled", "Cancelled"),
    ("interrupted", "Interrupted"),
]


class DevopsExec(models.Model):
    _name = "devops.exec"
    _inherit = ["devops.input.mixin"]
    _description = "DevOps Execution"
    _order = "id desc"
    _rec_name = "name"

    machine_id = fields.Many2one("devops.machine", required=True, readonly=True, index=True)
    workspace_id = fields.Many2one("devops.workspace", readonly=True, index=True)
    name = fields.Char(
        string="Title",
        readonly=True,
        help="What the run is, in words: the command typed, or what the app did (Start Demo "
        "web, git status, Update Demo web to v1.2: Checkout).",
    )
    command = fields.Text(required=True, readonly=True, help="The command as it was given.")
    argv = fields.Text(
        string="Arguments (JSON)", required=True, readonly=True, help="The argv list that ran."
    )
    cwd = fields.Char(string="Working directory", readonly=True)
    env_vars = fields.Text(
        string="Environment (JSON)", readonly=True, help="Variables added to the environment."
    )
    timeout = fields.Integer(string="Timeout (s)", readonly=True, aggregator=None)
    user_id = fields.Many2one(
        "res.users", string="Run by", required=True, readonly=True, index=True
    )
    stage_id = fields.Many2one("devops.stage", readonly=True, index=True)
    instance_id = fields.Many2one("devops.instance", readonly=True, index=True)
    res_model = fields.Char(
        string="Owner model", readonly=True, help="The model told when the run ends."
    )
    res_id = fields.Many2oneReference(string="Owner", model_field="res_model", readonly=True)
    builtin = fields.Boolean(
        string="Automatic",
        readonly=True,
        help="A command the app wrote (git, start, stop, update steps), not one a user typed.",
    )
    token = fields.Char(
        readonly=True,
        copy=False,
        groups=MANAGER,
        help="Marks every process of the run in its environment (DEVOPS_RUN_TOKEN), so "
        "that cancel, timeout and recovery find the ones that left its process group.",
    )
    instance_action = fields.Selection(
        [
            ("start", "Start"),
            ("stop", "Stop"),
            ("restart", "Restart"),
            ("auto_restart", "Automatic restart"),
            ("log", "Log"),
            ("backup", "Backup"),
            ("restore", "Restore"),
            ("backup_rotate", "Backup rotation"),
        ],
        readonly=True,
    )
    shared = fields.Boolean(
        readonly=True, help="Every DevOps user sees a shared run; others see only their own."
    )
    state = fields.Selection(
        STATES,
        required=True,
        default="queued",
        readonly=True,
        index=True,
    )
    exit_code = fields.Integer(
        readonly=True,
        aggregator=None,
        default=-1,
        help="-1: none (killed by a signal, or not started).",
    )
    signal_name = fields.Char(string="Signal", readonly=True, help="The signal that ended it.")
    date_start = fields.Datetime(string="Started", readonly=True)
    date_end = fields.Datetime(string="Ended", readonly=True)
    duration = fields.Float(string="Duration (s)", readonly=True, aggregator="avg")
    output = fields.Text(readonly=True, help="Head and tail of stdout and stderr, interleaved.")
    output_stderr = fields.Text(string="Errors output", readonly=True)
    output_size = fields.Integer(string="Output size (bytes)", readonly=True)
    output_truncated = fields.Boolean(readonly=True)
    output_attachment_id = fields.Many2one(
        "ir.attachment", string="Whole output", readonly=True, ondelete="set null"
    )
    error_message = fields.Text(readonly=True, help="Why the run could not start or finish.")
    error_ids = fields.One2many("devops.exec.error", "exec_id", string="Errors", readonly=True)
    error_count = fields.Integer(compute="_compute_error_count", store=True)
    cancel_requested = fields.Boolean(readonly=True, copy=False)
    machine_signature = fields.Char(
        readonly=True,
        copy=False,
        help="The machine's kind, host, port and user when the run was queued: a run does "
        "not start on a machine changed since.",
    )
    runner_host = fields.Char(readonly=True, copy=False)
    runner_pid = fields.Integer(readonly=True, aggregator=None, copy=False)
    process_pid = fields.Integer(readonly=True, aggregator=None, copy=False)
    process_start = fields.Float(readonly=True, copy=False)

    def init(self):
        # The runner's claims: queued runs in order, and the active runs of an instance.
        tools.create_index(
            self.env.cr, "devops_exec_queued_idx", self._table, ["id"], where="state = 'queued'"
        )
        tools.create_index(
            self.env.cr,
            "devops_exec_active_instance_idx",
            self._table,
            ["instance_id", "state", "id"],
            where="state IN ('queued', 'running')",
        )

    @api.depends("error_ids")
    def _compute_error_count(self):
        for run in self:
            run.error_count = len(run.error_ids)

    # --- Audit trail -----------------------------------------------------------------

    def write(self, vals):
        if not self.env.context.get("devops_exec_runner") and any(
            run.state in FINAL_STATES for run in self
        ):
            raise UserError(
                self.env._("A finished run is part of the audit trail: it cannot be changed.")
            )
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_only_by_retention(self):
        if not self.env.context.get("devops_exec_retention"):
            raise UserError(
                self.env._("Runs are deleted by the retention setting only (Settings: keep runs).")
            )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if not vals.get("name") and vals.get("command"):
                vals["name"] = _title(None, vals["command"])
        return super().create(vals_list)

    # --- Enqueue ---------------------------------------------------------------------

    @api.model
    def _enqueue(
        self,
        machine,
        command,
        cwd=None,
        timeout=None,
        stage=None,
        workspace=None,
        instance=None,
        action=None,
        env=None,
        now=False,
        builtin=False,
        owner=None,
        title=None,
    ):
        """Create a queued run for the current user and wake the runner; returns its id.

        ``title``: what the run is, in words (default: the command's first line).

        ``builtin``: a command the app wrote (git, instance lifecycle, update steps), which
        users may run on this machine too; any other command on a machine of kind 'This
        machine' needs the group "Run commands on the Odoo server".
        ``owner``: a record told when the run ends (its ``_on_exec_done(run)``).
        ``now``: create it running instead, for ``_run_now`` to run in this transaction."""
        user = self.env.user
        if not self.env.su and not user.has_group(USER):
            raise AccessError(self.env._("Only DevOps users can run commands."))
        if not isinstance(machine, models.BaseModel) or machine._name != "devops.machine":
            raise UserError(self.env._("Choose the machine to run the command on."))
        machine._ensure_one_existing()
        if not machine.active:
            raise UserError(
                self.env._(
                    "The machine %(machine)s is archived: restore it before running commands on "
                    "it.",
                    machine=machine.display_name,
                )
            )
        if workspace:
            workspace._ensure_one_existing()
        if not builtin:
            self._check_may_run_own_commands(machine)
        if isinstance(command, str):
            if not command.strip():
                raise UserError(self.env._("The command is empty."))
            argv = script_argv(command)
            shown = command
        elif isinstance(command, list | tuple) and command:
            argv = list(command)
            if not all(isinstance(arg, str) for arg in argv):
                raise UserError(self.env._("Every argument of the command must be text."))
            shown = shlex.join(argv)
        else:
            raise UserError(self.env._("The command must be an argv list or a string."))
        if cwd is not None and cwd is not False and not isinstance(cwd, str):
            raise UserError(self.env._("The working directory must be an absolute path."))
        timeout = self._check_timeout(timeout)
        try:
            RunSpec(argv, cwd=cwd or None, env=env or {}, timeout=timeout).check()
        except ExecError as error:
            raise UserError(str(error)) from error
        run = self.sudo().create(
            {
                "machine_id": machine.id,
                "workspace_id": workspace.id if workspace else False,
                "command": shown,
                "name": _title(title, shown, argv if not isinstance(command, str) else None),
                "argv": json.dumps(argv),
                "cwd": cwd or False,
                "timeout": timeout,
                "user_id": user.id,
                "stage_id": self._stage_from(stage).id,
                "shared": bool(self.env.context.get("devops_exec_shared") or instance),
                "instance_id": instance.id if instance else False,
                "instance_action": action or False,
                "env_vars": json.dumps(env) if env else False,
                "state": "running" if now else "queued",
                "date_start": fields.Datetime.now() if now else False,
                "builtin": bool(builtin),
                "res_model": owner._name if owner else False,
                "res_id": owner.id if owner else False,
                "token": secrets.token_hex(16),
                "machine_signature": machine._signature(),
            }
        )
        if not now:
            self.env.ref("erplibre_devops.ir_cron_exec_runner").sudo()._trigger()
        return run.id

    @api.model
    def _may_run_own_commands(self, machine):
        return machine.kind != "local" or self.env.su or self.env.user.has_group(LOCAL)

    @api.model
    def _check_may_run_own_commands(self, machine):
        """Commands of one's own on the Odoo server's machine are a privilege: that system
        user reads Odoo's database, configuration and every secret."""
        if not self._may_run_own_commands(machine):
            raise AccessError(
                self.env._(
                    "Running commands of your own on %(machine)s (the Odoo server itself) needs "
                    "the group 'Run commands on the Odoo server'. Ask a DevOps manager, or use "
                    "an SSH machine.",
                    machine=machine.display_name,
                )
            )

    @api.model
    def _check_timeout(self, timeout):
        """Seconds from 1 to MAX_TIMEOUT (a fraction is rounded up); None: the default."""
        if timeout is None or timeout is False:
            params = self.env["ir.config_parameter"].sudo()
            try:
                timeout = int(params.get_param("erplibre_devops.command_timeout", 600) or 600)
            except ValueError:
                timeout = 600
            if not 0 < timeout <= MAX_TIMEOUT:  # a setting written behind the form's back
                timeout = min(max(timeout, 1), MAX_TIMEOUT)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout != timeout:
            raise UserError(
                self.env._("The timeout must be a number of seconds, not %(value)r.", value=timeout)
            )
        if not 0 < timeout <= MAX_TIMEOUT:
            raise UserError(
                self.env._("The timeout must be from 1 to %(max)s seconds.", max=MAX_TIMEOUT)
            )
        return max(1, math.ceil(timeout))

    @api.model
    def _run_now(
        self, machine, argv, cwd=None, stage=None, workspace=None, env=None, timeout=60, title=None
    ):
        """Run a short command in this request, recorded like any run; returns (run, stdout).

        For what the UI must show at once (git status, log, diff): bounded by ``timeout``."""
        run = self.browse(
            self._enqueue(
                machine, argv, cwd=cwd, timeout=timeout, stage=stage, workspace=workspace,
                env=env, now=True, builtin=True, title=title,
            )
        )  # fmt: skip
        capture = Capture()
        result, message = None, None
        try:
            result = machine._executor().run(run._run_spec(), capture)
        except ExecError as error:
            message = str(error)
        run.sudo().with_context(devops_exec_runner=True)._finish(result, capture, message)
        return run, capture.text("stdout", raw=True)

    def _run_spec(self):
        self.ensure_one()
        return RunSpec(
            json.loads(self.argv),
            cwd=self.cwd or None,
            env=json.loads(self.env_vars) if self.env_vars else {},
            timeout=self.timeout if self.timeout and self.timeout > 0 else MAX_TIMEOUT,
            token=self.token or None,
        )

    @api.model
    def _stage_from(self, stage):
        Stage = self.env["devops.stage"]
        if stage is None or stage is False:
            return Stage
        if isinstance(stage, models.BaseModel) and stage._name == "devops.stage":
            return stage[:1]
        if isinstance(stage, int) and not isinstance(stage, bool):
            found = Stage.browse(stage).exists()
            if not found:
                raise UserError(self.env._("No DevOps stage has the id %(id)s.", id=stage))
            return found
        if not isinstance(stage, str):
            raise UserError(
                self.env._(
                    "The stage is a devops.stage id or code (such as 'deploy'), not %(value)r.",
                    value=stage,
                )
            )
        stage = arg_text(self.env, self.env._("The stage"), stage, max_length=64)
        if not stage:
            return Stage
        found = Stage.search([("code", "=", stage)], limit=1)
        if not found:
            raise UserError(self.env._("No DevOps stage has the code '%(code)s'.", code=stage))
        return found

    # --- Actions -----------------------------------------------------------------------

    def action_cancel(self):
        """Cancel queued runs at once; ask running ones to stop (the runner kills them)."""
        self._check_ids()
        for run in self:
            run.check_access("read")
            if run.user_id != self.env.user and not self.env.user.has_group(MANAGER):
                raise AccessError(self.env._("Only its author or a DevOps manager can cancel it."))
            self.env.cr.execute(
                "UPDATE devops_exec SET state = 'cancelled', date_end = %s"
                " WHERE id = %s AND state = 'queued'",
                [fields.Datetime.now(), run.id],
            )
            if self.env.cr.rowcount:
                run.invalidate_recordset()
                run.sudo()._notify_owner()
            else:
                self.env.cr.execute(
                    "UPDATE devops_exec SET cancel_requested = true"
                    " WHERE id = %s AND state = 'running'",
                    [run.id],
                )
        self.invalidate_recordset()

    def action_run_again(self):
        """The same command again, as a run of the current user (a typed command: on this
        machine it needs the group 'Run commands on the Odoo server')."""
        self._ensure_one_existing()
        self.check_access("read")
        new_id = self.env["devops.exec"]._enqueue(
            self.machine_id,
            self._shown_script() or json.loads(self.argv),
            cwd=self.cwd,
            timeout=self.timeout if self.timeout > 0 else None,
            stage=self.stage_id,
            workspace=self.workspace_id,
        )
        return self._action_open(new_id)

    def source_context(self, around=5):
        """For each error with a location: the source lines around it, read from the run's
        machine (local or SSH), and the git blame of the failing line when the file belongs
        to the run's workspace.  A list of dicts: error_id, message, file, line, excerpt
        [(number, text)], blame {author, email, time, sha, summary} or None, note (why the
        source is missing, or False) and blame_note (why the blame is empty, or False) —
        for the error's own location (a traceback's innermost frame) — and ``frames``: every
        frame of a traceback, outermost first, each a dict of file, line, function,
        in_workspace, library, user_frame (the user's own frame: the deepest one in the
        workspace that is not an installed library), excerpt, note, blame, blame_note; and
        ``user_frame``, the index of that frame in ``frames``.  ``around``: lines before and
        after, 0 to 50.

        Reading a file is reading on the run's machine: files in the run's workspace are
        read for anyone who may read the run; files elsewhere only for who may run commands
        of their own on that machine (the error lines come from the output, which a command
        can fill with any path)."""
        self._ensure_one_existing()
        around = arg_int(self.env, self.env._("around"), around, 0, 50, default=5)
        machine = self.sudo().machine_id
        executor = machine._executor()
        root = (self.workspace_id.sudo().path or "").rstrip("/")
        anywhere = self.env["devops.exec"]._may_run_own_commands(machine)
        context = []
        for error in self.error_ids.filtered(lambda e: e.file and e.line > 0):
            frames = source.read_frames(
                executor, error._frame_list(), root, self.cwd or "", anywhere, around
            )
            user = source.user_frame(frames)
            shown = []
            for index, frame in enumerate(frames):
                shown.append(
                    {
                        "file": frame["file"],
                        "line": frame["line"],
                        "function": frame["function"],
                        "in_workspace": frame["in_workspace"],
                        "library": frame["library"],
                        "user_frame": index == user,
                        "excerpt": frame["excerpt"],
                        "note": self._source_note(frame, machine),
                        "blame": frame["blame"],
                        "blame_note": self._blame_note(frame),
                    }
                )
            own = shown[-1] if shown else {}
            context.append(
                {
                    "error_id": error.id,
                    "message": error.message,
                    "file": own.get("file") or error.file,
                    "line": error.line,
                    "excerpt": own.get("excerpt", []),
                    "blame": own.get("blame"),
                    "note": own.get("note", False),
                    "blame_note": own.get("blame_note", False),
                    "frames": shown,
                    "user_frame": user,
                }
            )
        return context

    def _source_note(self, frame, machine):
        """Why a frame's source is missing (``engine.source`` codes), or False."""
        problem = frame["source_problem"]
        if frame["excerpt"] or not problem:
            return False
        name = machine.display_name
        notes = {
            "not_a_file": self.env._("Not a file: code of Python itself."),
            "relative": self.env._("The file is relative and the run has no directory."),
            "no_workspace": self.env._(
                "The run has no workspace, and reading files elsewhere on %(machine)s needs "
                "the right to run commands there.",
                machine=name,
            ),
            "missing": self.env._("The file is missing on %(machine)s.", machine=name),
            "notfile": self.env._("This is not a regular file."),
            "unreadable": self.env._("The file cannot be read (permissions)."),
            "outside": self.env._(
                "The file is outside the workspace: reading it needs the right to run "
                "commands on %(machine)s.",
                machine=name,
            ),
            "no_line": self.env._(
                "The file has no line %(line)s: it changed since the run.", line=frame["line"]
            ),
        }
        return notes.get(problem) or self.env._(
            "The source could not be read: %(error)s", error=frame["source_error"] or "?"
        )

    def _blame_note(self, frame):
        """Why a frame has no git blame (``engine.source`` codes), or False."""
        problem = frame["blame_problem"]
        if frame["blame"] or not problem:
            return False
        notes = {
            "no_workspace": self.env._("No blame: the run has no workspace."),
            "outside_workspace": self.env._(
                "No blame: the file is outside the workspace (blame covers the workspace's files)."
            ),
            "unreadable": self.env._("No blame: the file cannot be read."),
            "not_repository": self.env._("No blame: the workspace is not a git repository."),
            "untracked": self.env._("No blame: the file is not committed."),
            "uncommitted": self.env._("No blame: this line has changes not committed yet."),
            "changed": self.env._(
                "No blame: the committed file has no such line (it changed since)."
            ),
            "outside": self.env._(
                "No blame: git sees this file outside its repository (a link, or a repository "
                "of its own)."
            ),
        }
        return notes.get(problem) or self.env._(
            "No blame: git blame failed: %(error)s", error=frame["blame_error"] or "?"
        )

    def action_debug(self):
        """Open the debug wizard on this run, its errors mapped to their source."""
        self._ensure_one_existing()
        self.check_access("read")
        wizard = self.env["devops.debug.wizard"].create(
            {
                "workspace_id": self.workspace_id.id,
                "instance_id": self.instance_id.id,
                "command": self._shown_script() or self.command,
                "exec_id": self.id,
            }
        )
        return wizard.action_analyze()

    def _problem(self):
        """Why this run did not succeed, in its own words."""
        self.ensure_one()
        if self.error_message:
            return self.error_message
        tail = (self.output_stderr or self.output or "").strip()[-2000:]
        state = dict(self._fields["state"]._description_selection(self.env)).get(
            self.state, self.state
        )
        if self.signal_name:
            state = self.env._(
                "%(state)s (signal %(signal)s)", state=state, signal=self.signal_name
            )
        elif self.exit_code > 0:
            state = self.env._("%(state)s (exit code %(code)s)", state=state, code=self.exit_code)
        return f"{state}: {tail}" if tail else state

    def _shown_script(self):
        """The script of a run given as a string (its argv is /bin/sh -c SCRIPT), else None."""
        argv = json.loads(self.argv)
        return argv[2] if argv[:2] == ["/bin/sh", "-c"] and len(argv) == 3 else None

    @api.model
    def _action_open(self, run_id):
        return form_action(self.browse(run_id), target="current")

    # --- Runner --------------------------------------------------------------------------

    @api.model
    def _run_pending(self, limit=None):
        """One pass of the runner (models/devops_exec_runner.py); returns how many runs
        ended.  Private: only the crons run it (tests call it)."""
        return self.env["devops.exec.runner"]._run_pass(limit)

    def _start_problem(self):
        """Why this claimed run may not start now, or None: its machine changed since it was
        queued, or is archived, or its author may no longer run such a command there."""
        self.ensure_one()
        machine = self.machine_id
        if not machine.active:
            return f"The machine {machine.name} was archived before the command could start."
        if self.machine_signature and self.machine_signature != machine._signature():
            return (
                f"The machine {machine.name} changed (kind, host, port or user) after this "
                "command was queued: it was not run. Run it again."
            )
        if not self.builtin and not self.with_user(self.user_id)._may_run_own_commands(machine):
            return (
                f"{self.user_id.name} may no longer run commands of their own on "
                f"{machine.name}: it was not run."
            )
        return None

    def _finish(self, result, capture, message, spill=None):
        """Store how the run ended; ``spill``: a local file with the whole output, attached
        (and moved into the filestore) when the output outgrew what the run keeps."""
        self.ensure_one()
        if result is None:
            state = "failed"
        elif result.cancelled:
            state = "cancelled"
        elif result.timed_out:
            state = "timeout"
        elif result.exit_code == 0:
            state = "done"
        else:
            state = "failed"
        text = capture.text()
        values = {
            "state": state,
            "date_end": fields.Datetime.now(),
            "duration": result.duration if result else 0.0,
            "exit_code": result.exit_code if result and result.exit_code is not None else -1,
            "signal_name": result.signal_name if result else False,
            "output": text,
            "output_stderr": capture.text(STDERR),
            "output_size": capture.size,
            "output_truncated": capture.truncated,
            "error_message": message or False,
            "cancel_requested": False,
        }
        spill = spill or capture.spill_path
        if spill:
            values["output_attachment_id"] = self._attach_output(spill).id
        self.write(values)
        found = error_parser.parse(text)
        self.env["devops.exec.error"].create(
            [
                {
                    "exec_id": self.id,
                    "error_type": error.error_type,
                    "message": error.message,
                    "file": error.file or False,
                    "line": error.line,
                    "count": error.count,
                    "fingerprint": error.fingerprint,
                    "frames": [list(frame) for frame in error.frames] or False,
                }
                for error in found
            ]
        )

    def _notify_owner(self):
        """Tell the instance (for its lifecycle runs) and the owner (``res_model``/``res_id``)
        that this run ended: call after its result is committed.  Each hook runs in a
        savepoint; an exception there is logged and reported to the owner, and never changes
        the run's own result."""
        self.ensure_one()
        hooks = []
        if self.instance_id and self.instance_action:
            hooks.append(self.instance_id._on_run_finished)
        owner = self._owner()
        if owner:
            hooks.append(owner._on_exec_done)
        for hook in hooks:
            try:
                with self.env.cr.savepoint():
                    hook(self)
            except TransactionRollbackError:
                raise  # a concurrent update: the runner tells the owners again, afresh
            except Exception as error:
                _logger.exception("devops.exec %s: the hook %s failed", self.id, hook.__name__)
                target = getattr(hook, "__self__", None)
                if target is not None and hasattr(target, "_on_exec_hook_failed"):
                    with contextlib.suppress(Exception), self.env.cr.savepoint():
                        target._on_exec_hook_failed(self, error)

    def _owner(self):
        if not self.res_model or not self.res_id or self.res_model not in self.env:
            return None
        return self.env[self.res_model].browse(self.res_id).exists() or None

    def _attach_output(self, path):
        """Attach the spilled output file without loading it into memory."""
        self.ensure_one()
        Attachment = self.env["ir.attachment"].sudo()
        name = f"devops-exec-{self.id}.log"
        vals = {
            "name": name,
            "res_model": self._name,
            "res_id": self.id,
            "mimetype": "text/plain",
        }
        try:
            if Attachment._storage() != "file":
                with open(path, "rb") as spill:
                    return Attachment.create({**vals, "raw": spill.read()})
            digest = hashlib.sha1(usedforsecurity=False)
            with open(path, "rb") as spill:
                for chunk in iter(lambda: spill.read(1 << 20), b""):
                    digest.update(chunk)
            checksum = digest.hexdigest()
            fname = f"{checksum[:2]}/{checksum}"
            full_path = Attachment._full_path(fname)
            os.makedirs(os.path.dirname(full_path), exist_ok=True)
            size = os.path.getsize(path)
            if not os.path.exists(full_path):
                shutil.move(path, full_path)
            attachment = Attachment.create(vals)
            # create() drops these three (it computes them from the content, which here
            # stays on disk): set them directly.
            self.env.cr.execute(
                "UPDATE ir_attachment SET store_fname = %s, file_size = %s, checksum = %s"
                " WHERE id = %s",
                [fname, size, checksum, attachment.id],
            )
            attachment.invalidate_recordset(["store_fname", "file_size", "checksum"])
            return attachment
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def _kill_leftovers(self):
        """Stop every process of this run still alive on its machine (found by its token)."""
        self.ensure_one()
        if not self.token:
            return
        try:
            self.machine_id._executor().kill_marked(self.token)
        except (ExecError, UserError) as error:
            _logger.warning("devops.exec %s: could not stop what it left: %s", self.id, error)

    @api.model
    def _cron_cleanup(self):
        """Delete finished runs older than the retention (Settings), with their attachments."""
        days = int(
            self.env["ir.config_parameter"]
            .sudo()
            .get_param("erplibre_devops.exec_retention_days", 90)
            or 0
        )
        if days <= 0:
            return
        limit = fields.Datetime.subtract(fields.Datetime.now(), days=days)
        old = self.sudo().search(
            [("state", "in", FINAL_STATES), ("date_end", "<", limit)], limit=10000
        )
        old.output_attachment_id.unlink()
        old.with_context(devops_exec_retention=True).unlink()


def _title(title, shown, argv=None):
    """A run's title: the given one, else the first line of its command — of the script for
    a ``/bin/sh -c SCRIPT …`` the app wrote — at most 120 characters."""
    text = title
    if not text and argv and argv[:2] == ["/bin/sh", "-c"] and len(argv) > 2:
        text = next((line.strip() for line in argv[2].splitlines() if line.strip()), "")
    if not text:
        text = (shown.strip().splitlines() or [""])[0]
    return text if len(text) <= 120 else text[:119] + "…"
