"""The code wizard: a workspace's git status, log and diff; branches, commit, pull, push.

Every git command is a run of the execution log (stage Code).  Status, log and diff run at
once (short, bounded); commit, pull and push too, bounded by their timeout, because their
result is what the wizard shows next.
"""

import html

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..engine import git
from ..models.utils import form_action

FILE_STATES = [
    ("staged", "Staged"),
    ("changed", "Changed"),
    ("untracked", "Untracked"),
    ("conflict", "Conflict"),
]


class DevopsCodeWizardFile(models.TransientModel):
    _name = "devops.code.wizard.file"
    _inherit = ["devops.input.mixin"]
    _description = "A file of the code wizard"
    _order = "path"

    wizard_id = fields.Many2one("devops.code.wizard", required=True, ondelete="cascade")
    path = fields.Char(required=True, readonly=True)
    state = fields.Selection(FILE_STATES, readonly=True)
    selected = fields.Boolean(string="Commit")

    def action_diff(self):
        self._ensure_one_existing()
        return self.wizard_id._show_diff(self.path, staged=self.state == "staged")


class DevopsCodeWizard(models.TransientModel):
    _name = "devops.code.wizard"
    _inherit = ["devops.input.mixin"]
    _description = "Code a workspace"

    workspace_id = fields.Many2one("devops.workspace", required=True)
    branch = fields.Char(readonly=True)
    upstream = fields.Char(readonly=True)
    ahead = fields.Integer(readonly=True)
    behind = fields.Integer(readonly=True)
    file_ids = fields.One2many("devops.code.wizard.file", "wizard_id", string="Files")
    log = fields.Text(readonly=True)
    diff = fields.Text(readonly=True)
    diff_title = fields.Char(readonly=True)
    new_branch = fields.Char(string="Branch name")
    message = fields.Text(string="Commit message")
    author = fields.Char(
        default=lambda self: f"{self.env.user.name} <{self.env.user.email or self.env.user.login}>",
        help="Name <email>",
    )
    last_result = fields.Html(readonly=True, sanitize=True)

    def _reopen(self):
        return form_action(self, self.env._("Code: %(name)s", name=self.workspace_id.name))

    def _say(self, run, what):
        ok = run.state == "done"
        text = run.error_message or run.output or ""
        self.last_result = (
            f"<p class='{'text-success' if ok else 'text-danger'}'><b>{html.escape(what)}</b></p>"
            f"<pre>{html.escape(text[-4000:])}</pre>"
        )
        return ok

    def action_refresh(self):
        self._ensure_one_existing()
        status = self.workspace_id.git_status()
        lines = [(5, 0, 0)]
        for state in ("conflicts", "staged", "changed", "untracked"):
            for path in status[state]:
                lines.append((0, 0, {"path": path, "state": state.rstrip("s")}))
        ok, out, _run = self.workspace_id._git(git.log_argv(20))
        commits = git.parse_log(out) if ok else []
        self.write(
            {
                "branch": status["branch"],
                "upstream": status["upstream"],
                "ahead": status["ahead"],
                "behind": status["behind"],
                "file_ids": lines,
                "log": "\n".join(
                    f"{c['sha'][:10]}  {c['date'][:16]}  {c['author']}  {c['subject']}"
                    for c in commits
                ),
            }
        )
        return self._reopen()

    def _show_diff(self, path=None, staged=False):
        ok, out, run = self.workspace_id._git(git.diff_argv(path, staged))
        self.write(
            {
                "diff": out if ok else (run.error_message or run.output),
                "diff_title": path or self.env._("All changes"),
            }
        )
        return self._reopen()

    def action_diff_all(self):
        self._ensure_one_existing()
        return self._show_diff()

    def _git_action(self, argv, what, timeout=120):
        ok, _out, run = self.workspace_id._git(argv, timeout=timeout)
        self._say(run, what)
        self.action_refresh()
        return ok

    def action_create_branch(self):
        self._ensure_one_existing()
        self._git_action(
            self._checked(git.create_branch_argv, self.new_branch), self.env._("Create branch")
        )
        return self._reopen()

    def action_switch_branch(self):
        self._ensure_one_existing()
        self._git_action(
            self._checked(git.switch_argv, self.new_branch), self.env._("Switch branch")
        )
        return self._reopen()

    def action_commit(self):
        self._ensure_one_existing()
        paths = self.file_ids.filtered("selected").mapped("path")
        argv = self._checked(git.commit_argv, self.message or "", self.author or "", paths)
        if self._git_action(argv, self.env._("Commit")):
            self.message = False
        return self._reopen()

    def action_pull(self):
        self._ensure_one_existing()
        if not self._git_action(git.pull_argv(), self.env._("Pull (fast-forward only)")):
            self.last_result = (self.last_result or "") + self.env._(
                "<p>The branches have diverged or the work tree has changes in the way: "
                "commit or stash them, then merge or rebase by hand.</p>"
            )
        return self._reopen()

    def action_push(self):
        self._ensure_one_existing()
        self._git_action(git.push_argv(bool(self.upstream)), self.env._("Push"))
        return self._reopen()

    @api.model
    def _checked(self, build, *args):
        try:
            return build(*args)
        except git.GitInputError as error:
            raise UserError(str(error)) from error
