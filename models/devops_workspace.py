import datetime
import logging

from psycopg2.errors import TransactionRollbackError

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..engine import git, validation
from ..engine.executor import ExecError
from .utils import count_by, form_action, open_action

_logger = logging.getLogger(__name__)


class DevopsWorkspace(models.Model):
    """A directory on a machine, usually a git checkout of an Odoo/ERPLibre project."""

    _name = "devops.workspace"
    _inherit = ["devops.input.mixin"]
    _devops_unique_name = True
    _description = "DevOps Workspace"
    _order = "name, id"

    name = fields.Char(required=True)
    machine_id = fields.Many2one(
        "devops.machine",
        required=True,
        ondelete="restrict",
        default=lambda self: self.env.ref(
            "erplibre_devops.machine_local", raise_if_not_found=False
        ),
    )
    machine_kind = fields.Selection(related="machine_id.kind", string="Machine kind")
    path = fields.Char(
        required=True,
        help="Absolute path of the workspace on its machine, such as /home/odoo/erplibre.",
    )
    active = fields.Boolean(default=True)
    instance_ids = fields.One2many("devops.instance", "workspace_id", string="Instances")
    exec_count = fields.Integer(string="Runs", compute="_compute_exec_count")
    pipeline_run_count = fields.Integer(
        string="Pipeline runs", compute="_compute_pipeline_run_count"
    )
    todo_ids = fields.One2many("devops.code.todo", "workspace_id", string="TODOs")
    todo_count = fields.Integer(string="TODO count", compute="_compute_todo_count")
    git_branch = fields.Char(string="Branch", readonly=True, copy=False)
    git_upstream = fields.Char(string="Upstream", readonly=True, copy=False)
    git_ahead = fields.Integer(string="Ahead", readonly=True, copy=False)
    git_behind = fields.Integer(string="Behind", readonly=True, copy=False)
    git_dirty = fields.Boolean(string="Uncommitted changes", readonly=True, copy=False)
    git_last_commit = fields.Char(string="Last commit", readonly=True, copy=False)
    git_status_date = fields.Datetime(string="Git status of", readonly=True, copy=False)
    git_error = fields.Text(string="Git problem", readonly=True, copy=False)
    git_changes = fields.Char(
        string="Local changes",
        compute="_compute_git_changes",
        help="Uncommitted changes, commits ahead of and behind the upstream.",
    )

    _sql_constraints = [
        ("name_unique", "unique(name)", "Another workspace already has this name."),
        (
            "machine_path_unique",
            "unique(machine_id, path)",
            "Another workspace already uses this path on this machine.",
        ),
    ]

    @api.depends("git_status_date", "git_error", "git_dirty", "git_ahead", "git_behind")
    def _compute_git_changes(self):
        for workspace in self:
            if workspace.git_error:
                workspace.git_changes = self.env._("git problem")
                continue
            if not workspace.git_status_date:
                workspace.git_changes = False
                continue
            parts = []
            if workspace.git_dirty:
                parts.append(self.env._("uncommitted changes"))
            if workspace.git_ahead:
                parts.append(self.env._("%(count)s ahead", count=workspace.git_ahead))
            if workspace.git_behind:
                parts.append(self.env._("%(count)s behind", count=workspace.git_behind))
            workspace.git_changes = ", ".join(parts) or self.env._("clean")

    def _compute_exec_count(self):
        counts = count_by(self, "devops.exec", "workspace_id")
        for workspace in self:
            workspace.exec_count = counts.get(workspace.id, 0)

    def _compute_todo_count(self):
        counts = count_by(self, "devops.code.todo", "workspace_id")
        for workspace in self:
            workspace.todo_count = counts.get(workspace.id, 0)

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._check_input(vals)
            self._normalize_path_vals(vals)
        workspaces = super().create(vals_list)
        workspaces._check_location()
        return workspaces

    def copy_data(self, default=None):
        vals_list = super().copy_data(default)  # the name: see devops.input.mixin
        if "path" not in (default or {}):  # (machine, path) is unique too
            for workspace, vals in zip(self, vals_list, strict=True):
                vals["path"] = f"{workspace.path.rstrip('/')}-copy"
        return vals_list

    def write(self, vals):
        self._check_input(vals)
        self._normalize_path_vals(vals)
        result = super().write(vals)
        if "path" in vals or "machine_id" in vals:
            self._check_location()
        return result

    def _check_location(self):
        """Read the git summary of a new or moved workspace, as "Refresh git" does, without
        ever failing the save: a path that does not exist or is no git repository, or a
        machine that cannot be reached, is kept as a warning (``git_error``) shown on the
        form.  Not recorded as runs (the command is fixed, and only reads)."""
        for workspace in self:
            workspace.sudo().write(dict.fromkeys(_GIT_SUMMARY, False))
            if workspace.repo_ids and not workspace.git_root:
                continue  # repositories in sub-folders: their clone says how they are
            problem = workspace._location_problem()
            if problem:
                workspace.sudo().write(
                    {"git_error": problem, "git_status_date": fields.Datetime.now()}
                )
            else:
                workspace.with_context(devops_git_soft=True)._git_status(record=False)

    def _location_problem(self):
        """Why this workspace's path is no git work tree on its machine, or None."""
        self.ensure_one()
        machine = self.machine_id.sudo()
        if machine.kind == "ssh" and not machine.host_key:
            return self.env._(
                "The path was not checked: test the connection of %(machine)s and accept its "
                "host key first, then use Refresh git.",
                machine=machine.display_name,
            )
        try:
            ok, out = machine._executor().read_stdout(git.workspace_check_argv(self.path))
        except (ExecError, UserError) as error:
            ok, out = False, str(error)
        if not ok:
            return self.env._(
                "The path could not be checked on %(machine)s: %(error)s",
                machine=machine.display_name,
                error=out.strip()[-1000:],
            )
        problems = {
            "missing": self.env._(
                "The folder %(path)s does not exist on %(machine)s: create it, or clone your "
                "project there.",
                path=self.path,
                machine=machine.display_name,
            ),
            "notdir": self.env._("%(path)s is a file, not a folder.", path=self.path),
            "noaccess": self.env._(
                "The folder %(path)s cannot be entered by the user that runs the commands on "
                "%(machine)s.",
                path=self.path,
                machine=machine.display_name,
            ),
            "nogit": self.env._(
                "git is not installed on %(machine)s.", machine=machine.display_name
            ),
            "notrepo": self.env._(
                "%(path)s is not a git repository: clone your project there, or run git init.",
                path=self.path,
            ),
        }
        word = out.strip()
        if word == "ok":
            return None
        return problems.get(word) or self.env._(
            "The path could not be checked: %(answer)s", answer=word[-1000:]
        )

    @api.model
    def _normalize_path_vals(self, vals):
        """Refuse a bad path before it reaches the database (PostgreSQL rejects NUL with an
        unreadable error), and store a good one in its normal form."""
        if "path" in vals:
            self._raise_path_problem(vals["path"] or "")
            vals["path"] = validation.normalize_path(vals["path"])

    @api.model
    def _raise_path_problem(self, path):
        problem = validation.check_absolute_path(path)
        if problem:
            raise ValidationError(self.env._(problem.template, **problem.params))

    @api.constrains("path")
    def _check_path(self):
        for workspace in self:
            self._raise_path_problem(workspace.path or "")

    def action_open_exec_wizard(self):
        self._ensure_one_existing()
        action = self.env["ir.actions.act_window"]._for_xml_id("erplibre_devops.action_exec_wizard")
        action["context"] = {
            "default_machine_id": self.machine_id.id,
            "default_workspace_id": self.id,
        }
        return action

    def action_view_execs(self):
        self._ensure_one_existing()
        return open_action(
            self.env, "erplibre_devops.action_exec", [("workspace_id", "=", self.id)], {}
        )

    def exec_command(self, command, timeout=None, stage=None):
        """Queue ``command`` in this workspace's directory; returns the new devops.exec id.

        ``command``: an argv list, or a string run by ``/bin/sh -c``; ``timeout`` in
        seconds (default from Settings); ``stage``: a devops.stage id or code.  On a machine
        of kind 'This machine', the caller needs the group 'Run commands on the Odoo
        server'."""
        self._ensure_one_existing()
        self.check_access("read")
        return self.env["devops.exec"]._enqueue(
            self.machine_id,
            command,
            cwd=self.path,
            timeout=timeout,
            stage=stage,
            workspace=self,
        )

    # --- Git ---------------------------------------------------------------------------

    def _git(self, argv, record=True, timeout=60, title=None):
        """Run a git command in this workspace; returns (ok, stdout, run or None).

        ``record``: as a run of the execution log (stage Code), else directly (the cron's
        refresh)."""
        self.ensure_one()
        if record:
            run, stdout = self.env["devops.exec"]._run_now(
                self.machine_id, argv, cwd=self.path, stage="code", workspace=self,
                env=git.GIT_ENV, timeout=timeout, title=title,
            )  # fmt: skip
            return run.state == "done", stdout, run
        try:
            executor = self.machine_id._executor()
        except ExecError as error:
            return False, str(error), None
        ok, out = executor.read_stdout(argv, cwd=self.path, env=git.GIT_ENV, timeout=timeout)
        return ok, out, None

    def git_status(self):
        """{branch, upstream, ahead, behind, staged, changed, untracked, conflicts, last_commit};
        also stored on the workspace (branch, last commit, dirty state).  Recorded as a run
        of the execution log (stage Code)."""
        self._ensure_one_existing()
        self.check_access("read")
        return self._git_status(record=True)

    def _git_status(self, record=True):
        self.ensure_one()
        ok, out, run = self._git(git.status_and_head_argv(), record=record, title="git status")
        if not ok:
            message = ((run.error_message or run.output) if run else out).strip()
            self.sudo().write({"git_error": message, "git_status_date": fields.Datetime.now()})
            if self.env.context.get("devops_git_soft"):
                return None
            raise UserError(
                self.env._("Git failed in %(path)s: %(error)s", path=self.path, error=message)
            )
        status = git.parse_status_and_head(out)
        last = status["last_commit"]
        self.sudo().write(
            {
                "git_branch": status["branch"] or False,
                "git_upstream": status["upstream"] or False,
                "git_ahead": status["ahead"],
                "git_behind": status["behind"],
                "git_dirty": bool(status["staged"] or status["changed"] or status["untracked"]),
                "git_last_commit": f"{last['sha'][:10]} {last['subject']}" if last else False,
                "git_status_date": fields.Datetime.now(),
                "git_error": False,
            }
        )
        return status

    def action_refresh_git(self):
        """Refresh the git summary; a problem is shown and kept on the workspace."""
        self._ensure_one_existing()
        if self.with_context(devops_git_soft=True)._git_status() is None:
            return self.machine_id._notify(self.git_error, "danger")
        return self.machine_id._notify(
            self.env._("%(name)s is on %(branch)s.", name=self.name, branch=self.git_branch or "?"),
            "success",
        )

    @api.model
    def _cron_refresh_git(self):
        """Keep every workspace's git summary fresh (not recorded as runs); a problem with
        one workspace is recorded on it and never stops the others."""
        for workspace in self.search([("active", "=", True), ("git_root", "=", True)]):
            try:
                with self.env.cr.savepoint():
                    workspace.with_context(devops_git_soft=True)._git_status(record=False)
            except TransactionRollbackError:
                continue  # written by someone else meanwhile: refreshed next time
            except Exception as error:
                _logger.exception("Refreshing the git status of workspace %s failed", workspace.id)
                workspace.sudo().write(
                    {"git_error": str(error), "git_status_date": fields.Datetime.now()}
                )

    def action_scan_todo(self):
        """(Re)build this workspace's TODO/FIXME/XXX/HACK list, with git blame."""
        self._ensure_one_existing()
        self.check_access("read")
        ok, out, run = self._git(git.todo_grep_argv())
        if not ok and run and run.exit_code != 1:  # git grep: 1 means "nothing found"
            raise UserError(run.error_message or run.output)
        found = git.parse_todo_grep(out if ok else "")
        by_file = {}
        for path, line, _kind, _text in found:
            by_file.setdefault(path, []).append(line)
        blames = {}
        for path, lines in by_file.items():
            done, blame_out, _run = self._git(git.blame_argv(path, lines), record=False)
            blames[path] = git.parse_blame(blame_out) if done else {}
        Todo = self.env["devops.code.todo"].sudo()
        Todo.search([("workspace_id", "=", self.id)]).unlink()
        Todo.create(
            [
                {
                    "workspace_id": self.id,
                    "file": path,
                    "line": line,
                    "kind": kind,
                    "text": text,
                    "author": blames[path].get(line, {}).get("author") or False,
                    "date": _blame_date(blames[path].get(line)),
                }
                for path, line, kind, text in found
            ]
        )
        return open_action(
            self.env,
            "erplibre_devops.action_code_todo",
            [("workspace_id", "=", self.id)],
            {"search_default_group_file": 1},
        )

    def debug_command(self, command, timeout=None):
        """Run ``command`` (argv list or shell string) here to debug it; returns the run's id.
        Its tracebacks are parsed; ``devops.exec.source_context()`` maps them to the source."""
        self._ensure_one_existing()
        return self.exec_command(command, timeout=timeout, stage="code")

    def _compute_pipeline_run_count(self):
        counts = count_by(self, "devops.pipeline.run", "workspace_id")
        for record in self:
            record.pipeline_run_count = counts.get(record.id, 0)

    def action_view_pipeline_runs(self):
        self._ensure_one_existing()
        return open_action(
            self.env, "erplibre_devops.action_pipeline_run", [("workspace_id", "=", self.id)], {}
        )

    def action_open_pipeline_wizard(self):
        self._ensure_one_existing()
        wizard = self.env["devops.pipeline.launch.wizard"].create({"workspace_id": self.id})
        return form_action(wizard, self.env._("Run a pipeline on %(name)s", name=self.name))

    def action_open_debug_wizard(self):
        self._ensure_one_existing()
        wizard = self.env["devops.debug.wizard"].create({"workspace_id": self.id})
        return wizard._reopen()

    def action_open_code_wizard(self):
        self._ensure_one_existing()
        wizard = self.env["devops.code.wizard"].create({"workspace_id": self.id})
        wizard._load()
        return wizard._reopen()


_GIT_SUMMARY = (
    "git_branch",
    "git_upstream",
    "git_ahead",
    "git_behind",
    "git_dirty",
    "git_last_commit",
    "git_status_date",
    "git_error",
)


def _blame_date(info):
    if not info or not info.get("time"):
        return False
    return datetime.datetime.fromtimestamp(info["time"], datetime.UTC).replace(tzinfo=None)
