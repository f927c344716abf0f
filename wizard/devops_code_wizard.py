"""The code wizard: a workspace's git status, log and diff; branches, commit, pull, push.

Every git command is a run of the execution log (stage Code).  Status, log and diff run at
once (short, bounded); commit, pull and push too, bounded by their timeout, because their
result is what the wizard shows next.  Choosing a workspace loads its status, its log and
the identity git commits with there (``user.name``/``user.email``; the Odoo user when the
repository has none).  Diffs are shown coloured, file by file, as HTML built here with every
line escaped.
"""

import html

from odoo import Command, api, fields, models
from odoo.exceptions import UserError

from ..engine import git
from ..models.utils import form_action

MAX_DIFF_CHARS = 500_000  # kept on the wizard (a Text field holds at most 1 000 000)
MAX_DIFF_LINES = 5000  # shown coloured
MAX_UNTRACKED_LINES = 2000
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

    @api.model_create_multi
    def create(self, vals_list):
        # Lines are made by the dialog's own loading; over RPC, only in a dialog of one's own.
        wizard_ids = {vals.get("wizard_id") for vals in vals_list} - {None, False}
        self.env["devops.code.wizard"].browse(wizard_ids).check_access("write")
        return super().create(vals_list)

    def action_diff(self):
        self._ensure_one_existing()
        return self.wizard_id._show_diff(
            self.path, staged=self.state == "staged", untracked=self.state == "untracked"
        )


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
    diff_html = fields.Html(string="Diff (coloured)", compute="_compute_diff_html")
    new_branch = fields.Char(string="Branch name")
    message = fields.Text(string="Commit message")
    author = fields.Char(
        default=lambda self: self._odoo_author(),
        help="Name <email>: the repository's git identity (git config user.name and "
        "user.email), else your Odoo user.",
    )
    author_note = fields.Char(readonly=True)
    last_result = fields.Html(readonly=True, sanitize=True)

    @api.model
    def _odoo_author(self):
        return f"{self.env.user.name} <{self.env.user.email or self.env.user.login}>"

    @api.depends("diff")
    def _compute_diff_html(self):
        for wizard in self:
            wizard.diff_html = render_diff_html(wizard.diff, self.env) if wizard.diff else False

    @api.onchange("workspace_id")
    def _onchange_workspace_id(self):
        """Load the chosen workspace at once: its status, log and git identity."""
        workspace = self.workspace_id._origin
        if not workspace:
            self.update(self._empty_values())
            return
        self.update({**self._status_values(workspace), **self._identity_values(workspace)})

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

    @api.model
    def _empty_values(self):
        return {
            "branch": False,
            "upstream": False,
            "ahead": 0,
            "behind": 0,
            "file_ids": [Command.clear()],
            "log": False,
            "diff": False,
            "diff_title": False,
            "last_result": False,
        }

    @api.model
    def _status_values(self, workspace, selected=()):
        """The values that show ``workspace``'s status and log (a git problem is shown, not
        raised); the files whose path is in ``selected`` stay selected."""
        values = self._empty_values()
        status = workspace.with_context(devops_git_soft=True).git_status()
        if status is None:
            values["last_result"] = (
                f"<p class='text-danger'><b>{html.escape(self.env._('Git status'))}</b></p>"
                f"<pre>{html.escape((workspace.git_error or '')[-4000:])}</pre>"
            )
            return values
        for state in ("conflicts", "staged", "changed", "untracked"):
            for path in status[state]:
                values["file_ids"].append(
                    Command.create(
                        {"path": path, "state": state.rstrip("s"), "selected": path in selected}
                    )
                )
        ok, out, _run = workspace._git(git.log_argv(20))
        commits = git.parse_log(out) if ok else []
        values.update(
            {
                "branch": status["branch"],
                "upstream": status["upstream"],
                "ahead": status["ahead"],
                "behind": status["behind"],
                "log": "\n".join(
                    f"{c['sha'][:10]}  {c['date'][:16]}  {c['author']}  {c['subject']}"
                    for c in commits
                ),
            }
        )
        return values

    @api.model
    def _identity_values(self, workspace):
        """The author: the identity git commits with in the workspace, else the Odoo user."""
        ok, out, _run = workspace._git(git.identity_argv())
        found = git.parse_identity(out) if ok else None
        if found:
            return {
                "author": found,
                "author_note": self.env._(
                    "From git config (user.name, user.email) in the workspace."
                ),
            }
        return {
            "author": self._odoo_author(),
            "author_note": self.env._(
                "The repository has no git identity (git config user.name and user.email): "
                "you commit as your Odoo user."
            ),
        }

    def _load(self):
        """Load the workspace: status, log and the author to commit as."""
        self.ensure_one()
        workspace = self.workspace_id
        self.write({**self._status_values(workspace), **self._identity_values(workspace)})

    def action_refresh(self):
        self._ensure_one_existing()
        values = self._status_values(self.workspace_id, self._selected_paths())
        values["last_result"] = values["last_result"] or self.last_result
        self.write(values)
        return self._reopen()

    def _selected_paths(self):
        return set(self.file_ids.filtered("selected").mapped("path"))

    def _show_diff(self, path=None, staged=False, untracked=False):
        if untracked:
            # The line's path and state come from the client: read only a file git really
            # lists as untracked (never .git/ or what git ignores, such as .devops/).
            status = self.workspace_id.with_context(devops_git_soft=True).git_status()
            if status is None or path not in status["untracked"]:
                raise UserError(
                    self.env._(
                        "%(path)s is not an untracked file of the workspace (any more): "
                        "press Refresh.",
                        path=path,
                    )
                )
            argv = git.lines_argv(path, 1, MAX_UNTRACKED_LINES, self.workspace_id.path)
            ok, out, run = self.workspace_id._git(argv)
            if ok:
                out = _untracked_diff(path, git.parse_source(out.replace("\x00", "")))
        else:
            ok, out, run = self.workspace_id._git(git.diff_argv(path, staged))
        text = out if ok else (run.error_message or run.output or "")
        text = text.replace("\x00", "")
        if len(text) > MAX_DIFF_CHARS:
            text = (
                text[:MAX_DIFF_CHARS]
                + "\n"
                + self.env._(
                    "… (the diff is longer: see the whole output of run %(run)s)", run=run.id
                )
            )
        self.write(
            {
                "diff": text or self.env._("(no change)"),
                "diff_title": path or self.env._("All changes"),
            }
        )
        return self._reopen()

    def action_diff_all(self):
        self._ensure_one_existing()
        return self._show_diff()

    def _git_action(self, argv, what, timeout=120):
        """Run a git command that changes the work tree, say how it went, and show the new
        status: after a success, a fresh start (no message, no selection, no diff); after a
        failure, what the user chose stays."""
        selected = self._selected_paths()
        ok, _out, run = self.workspace_id._git(argv, timeout=timeout)
        self._say(run, what)
        values = self._status_values(self.workspace_id, () if ok else selected)
        values["last_result"] = values["last_result"] or self.last_result
        if ok:  # what was shown is done with: a fresh start
            values.update({"message": False, "new_branch": False})
        else:
            del values["diff"], values["diff_title"]
        self.write(values)
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
            self.env["devops.change"]._refresh_workspaces(self.workspace_id)
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


def _untracked_diff(path, rows):
    """A file git does not track yet, as the diff that would add it."""
    head = [f"diff --git a/{path} b/{path}", "new file (not tracked yet)", "--- /dev/null"]
    head += [f"+++ b/{path}", f"@@ -0,0 +1,{len(rows)} @@"]
    return "\n".join(head + [f"+{text}" for _number, text in rows]) + "\n"


_DIFF_CLASSES = {
    "meta": "o_devops_diff_meta",
    "hunk": "o_devops_diff_hunk",
    "add": "o_devops_diff_add",
    "del": "o_devops_diff_del",
    "context": "o_devops_diff_context",
    "note": "o_devops_diff_note",
}


def render_diff_html(text, env):
    """A unified diff as HTML, file by file, every line escaped and classed by its kind
    (added, removed, hunk header…); at most MAX_DIFF_LINES lines."""
    files = git.parse_diff(text)
    if not files:
        return f"<pre class='o_devops_diff_text'>{html.escape(text)}</pre>"
    parts, shown = ["<div class='o_devops_diff'>"], 0
    for file in files:
        added = sum(kind == "add" for kind, _row in file["lines"])
        removed = sum(kind == "del" for kind, _row in file["lines"])
        parts.append(
            "<div class='o_devops_diff_file'>"
            f"<div class='o_devops_diff_title'><code>{html.escape(file['path'])}</code>"
            f" <span class='o_devops_diff_count_add'>+{added}</span>"
            f" <span class='o_devops_diff_count_del'>-{removed}</span></div>"
            "<div class='o_devops_diff_body'>"
        )
        for kind, row in file["lines"]:
            if shown >= MAX_DIFF_LINES:
                break
            shown += 1
            parts.append(f"<div class='{_DIFF_CLASSES[kind]}'>{html.escape(row) or ' '}</div>")
        parts.append("</div></div>")
        if shown >= MAX_DIFF_LINES:
            more = env._("(the rest of the diff is not shown: diff one file at a time)")
            parts.append(f"<p class='text-muted'>{html.escape(more)}</p>")
            break
    parts.append("</div>")
    return "".join(parts)
