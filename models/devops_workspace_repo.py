"""A git repository of a workspace: where it comes from and where it goes.

A workspace holds one or more repositories (Odoo itself, addon repositories), each cloned
into its folder of the workspace by the *Clone* pipeline.  Private repositories are reached
over SSH with the workspace's deploy key and the git server's pinned host key, or over
HTTPS with a write-only token given to git through ``GIT_ASKPASS`` (a file of mode 600 on
the machine): never in a command line, a URL, ``.git/config`` or an output.
"""

import logging

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError

from ..engine import remote, ssh, validation
from ..engine.executor import ExecError
from .utils import arg_text

_logger = logging.getLogger(__name__)

MANAGER = "erplibre_devops.group_devops_manager"


class DevopsWorkspaceRepo(models.Model):
    _name = "devops.workspace.repo"
    _inherit = ["devops.input.mixin", "devops.secret.mixin"]
    _description = "DevOps Workspace Repository"
    _order = "workspace_id, sequence, id"
    _rec_name = "display_folder"

    workspace_id = fields.Many2one(
        "devops.workspace", required=True, ondelete="cascade", index=True
    )
    sequence = fields.Integer(default=10)
    url = fields.Char(
        string="URL",
        required=True,
        help="https://…, ssh://git@host/owner/repo.git, git@host:owner/repo.git, or the "
        "absolute path of a repository on the workspace's machine. No password or token "
        "in it: put a token in the Token field.",
    )
    branch = fields.Char(help="Empty: the remote's default branch.")
    folder = fields.Char(
        help="Where it goes, relative to the workspace's folder (such as odoo or "
        "addons/oca-web); empty for the workspace's folder itself.",
    )
    display_folder = fields.Char(string="Folder shown", compute="_compute_display_folder")
    depth = fields.Integer(help="Clone only the last N commits; 0: the whole history.")
    kind = fields.Selection(
        [("ssh", "SSH"), ("https", "HTTPS"), ("http", "HTTP"), ("file", "Local path")],
        compute="_compute_kind",
    )
    token = fields.Char(
        compute="_compute_token",
        inverse="_inverse_token",
        groups=MANAGER,
        help="For a private HTTPS repository: an access token (or password) of the forge. "
        "Write-only: it is never shown again.",
    )
    token_set = fields.Boolean(compute="_compute_token")
    token_user = fields.Char(
        string="Token user",
        help="The user name sent with the token; empty: x-access-token (GitHub, Gitea). "
        "GitLab: oauth2.",
    )
    host_key = fields.Char(
        help="The git server's SSH host key, pinned: git refuses any other.", copy=False
    )
    host_key_fingerprint = fields.Char(compute="_compute_host_key_fingerprint")
    host_key_offered = fields.Char(readonly=True, copy=False)
    host_key_offered_fingerprint = fields.Char(readonly=True, copy=False)
    state = fields.Selection(
        [("new", "Not cloned"), ("cloned", "Cloned"), ("error", "Problem")],
        default="new",
        required=True,
        readonly=True,
        copy=False,
    )
    commit = fields.Char(
        string="Fetched commit", readonly=True, copy=False, help="Last fetched commit."
    )
    fetch_date = fields.Datetime(string="Fetched on", readonly=True, copy=False)
    message = fields.Text(readonly=True, copy=False)
    follow = fields.Boolean(
        string="Follow the branch",
        copy=False,
        help="Check the remote branch for new commits (Settings: how often); a new commit "
        "pulls the workspace and runs its tests.",
    )
    remote_commit = fields.Char(
        string="Remote commit", readonly=True, copy=False, help="The branch's commit last seen."
    )
    follow_date = fields.Datetime(string="Checked on", readonly=True, copy=False)
    follow_error = fields.Text(string="Follow problem", readonly=True, copy=False)

    _sql_constraints = [
        (
            "folder_unique",
            "unique(workspace_id, folder)",
            "Another repository of this workspace already uses this folder.",
        ),
    ]

    def _compute_display_folder(self):
        for repo in self:
            repo.display_folder = repo.folder or "."

    @api.depends("url")
    def _compute_kind(self):
        for repo in self:
            try:
                repo.kind = remote.parse_url(repo.url).kind if repo.url else False
            except remote.RemoteInputError:
                repo.kind = False

    def _compute_token(self):
        names = self._secret_names()
        for repo in self:
            repo.token = False
            repo.token_set = "token" in names.get(repo.id, ())

    def _inverse_token(self):
        for repo in self:
            repo._set_token(repo.token)

    def _set_token(self, value):
        self.ensure_one()
        if not self.env.su and not self.env.user.has_group(MANAGER):
            raise AccessError(self.env._("Only DevOps managers can set a repository's token."))
        if value and (not isinstance(value, str) or validation.CONTROL.search(value)):
            raise ValidationError(self.env._("A token is one line of text."))
        self._secret_store("token", value or False)

    def action_clear_token(self):
        self._check_ids()
        for repo in self:
            repo._set_token(False)

    @api.depends("host_key")
    def _compute_host_key_fingerprint(self):
        for repo in self:
            repo.host_key_fingerprint = False
            if repo.host_key:
                try:
                    repo.host_key_fingerprint = ssh.fingerprint(ssh.parse_host_key(repo.host_key))
                except ValueError:
                    continue

    # --- Checks ------------------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._check_input(vals)
            self._normalize(vals)
        repos = super().create(vals_list)
        if any("token" in vals for vals in vals_list):
            repos.invalidate_recordset(["token", "token_set"])
        return repos

    def write(self, vals):
        self._check_input(vals)
        self._normalize(vals)
        if "url" in vals:  # another server: the pinned key no longer applies
            moved = self.filtered(lambda r: r.url != vals["url"])
            if moved and "host_key" not in vals:
                super(DevopsWorkspaceRepo, moved).write(
                    {"host_key": False, "host_key_offered": False, "state": "new"}
                )
        if vals.get("follow"):
            self.mapped("workspace_id")._check_automatic_allowed()
        result = super().write(vals)
        if vals.get("follow") and self.env.user.active:  # the automatic runs' user
            for workspace in self.mapped("workspace_id").sudo():
                if not workspace.test_user_id:
                    workspace.test_user_id = self.env.user
        if "token" in vals:
            self.invalidate_recordset(["token", "token_set"])
        return result

    @api.model
    def _normalize(self, vals):
        """Refuse a bad URL, branch, folder or depth with a message that says why, and store
        a good folder in its normal form."""
        try:
            if "url" in vals:
                remote.check_url(vals["url"])
            if vals.get("branch"):
                remote.check_branch(vals["branch"])
            if "folder" in vals:
                vals["folder"] = remote.check_folder(vals["folder"] or "") or False
            if "depth" in vals:
                remote.check_depth(vals["depth"] or 0)
        except remote.RemoteInputError as error:
            raise ValidationError(str(error)) from error

    @api.constrains("url", "branch", "folder", "depth", "host_key")
    def _check_repo(self):
        for repo in self:
            try:
                remote.check_url(repo.url)
                if repo.branch:
                    remote.check_branch(repo.branch)
                remote.check_folder(repo.folder or "")
                remote.check_depth(repo.depth or 0)
            except remote.RemoteInputError as error:
                raise ValidationError(str(error)) from error
            if repo.host_key:
                try:
                    ssh.parse_host_key(repo.host_key)
                except ValueError as error:
                    raise ValidationError(
                        self.env._("The host key is not valid: %(error)s", error=str(error))
                    ) from error

    # --- Host key of the git server ----------------------------------------------------

    def _server(self):
        """(host, port) of an SSH repository's server."""
        parsed = remote.parse_url(self.url)
        return parsed.host, parsed.port or 22

    def action_accept_host_key(self, fingerprint=None):
        """Pin the key the git server offered at the last clone (managers), on every
        repository of that server still without one.  ``fingerprint`` must be the one the
        manager checked (the form's button gives the one it shows)."""
        self._ensure_one_existing()
        if not self.env.user.has_group(MANAGER):
            raise AccessError(self.env._("Only DevOps managers can accept a host key."))
        fingerprint = arg_text(
            self.env,
            self.env._("The fingerprint"),
            fingerprint or self.env.context.get("devops_host_key_fingerprint"),
        )
        if not self.host_key_offered:
            raise UserError(self.env._("No host key is waiting: clone the workspace first."))
        if fingerprint != self.host_key_offered_fingerprint:
            raise UserError(
                self.env._(
                    "The server offered another key since you looked (%(offered)s, not "
                    "%(seen)s): nothing was accepted.",
                    offered=self.host_key_offered_fingerprint,
                    seen=fingerprint,
                )
            )
        key, server = self.host_key_offered, self._server()
        same = (
            self.sudo()
            .search([("host_key", "=", False)])
            .filtered(lambda r: r.kind == "ssh" and r._server() == server)
        )
        (same | self).sudo().write(
            {
                "host_key": key,
                "host_key_offered": False,
                "host_key_offered_fingerprint": False,
            }
        )
        return True

    def action_forget_host_key(self):
        self._ensure_one_existing()
        if not self.env.user.has_group(MANAGER):
            raise AccessError(self.env._("Only DevOps managers can forget a host key."))
        self.sudo().write({"host_key": False})
        return True

    # --- Following the remote branch (the cron "DevOps: follow branches") ---------------

    @api.onchange("follow")
    def _onchange_follow(self):
        """Say at once (not at the save) when following is not allowed here."""
        workspace = self.workspace_id
        if self.follow and workspace and workspace.machine_id.kind == "local":
            if not workspace._automatic_local_allowed():
                self.follow = False
                return {
                    "warning": {
                        "title": self.env._("Not on This machine"),
                        "message": workspace._automatic_problem(),
                    }
                }
        return None

    @api.model
    def _cron_follow(self):
        """``git ls-remote`` of every followed branch; a new commit queues the workspace's
        tests (pulling first).  One repository's problem is recorded on it, never stops the
        others."""
        repos = self.sudo().search([("follow", "=", True), ("workspace_id.active", "=", True)])
        commit = not self.env.registry.in_test_mode()
        Run = self.env["devops.pipeline.run"].sudo()
        for index, repo in enumerate(repos):
            workspace = repo.workspace_id
            busy = Run.search_count(
                [("lock_key", "in", (f"tests:{workspace.id}", f"workspace:{workspace.id}"))]
            )
            if busy:  # its run writes these repositories: checked again at the next pass
                continue
            try:
                with self.env.cr.savepoint():
                    repo._follow_check()
            except Exception:
                _logger.warning("Following %s failed", repo.url, exc_info=True)
            if commit:
                # Deliberate: each repository's check is kept, whatever the next one does.
                self.env.cr.commit()  # pylint: disable=invalid-commit
            if index % 10 == 9:
                self.env["ir.cron"]._notify_progress(
                    done=index + 1, remaining=len(repos) - index - 1
                )

    def _follow_check(self):
        """Check this repository's remote branch; returns the test run queued, or None."""
        self.ensure_one()
        workspace = self.workspace_id.sudo()
        try:
            executor = workspace.machine_id._executor()
            env, problem, secret_files = workspace._prepare_git(self, executor)
            if not problem:
                argv = remote.with_secret_files(
                    remote.ls_remote_argv(self.url, self.branch or None), secret_files
                )
                ok, out = executor.read_stdout(argv, env=env, timeout=60)
                found = remote.parse_ls_remote(out) if ok else {"refs": {}, "head": ""}
                branch = self.branch or found.get("head") or ""
                sha = found["refs"].get(f"refs/heads/{branch}")
                if not sha:
                    problem = (
                        out.strip()[-1000:]
                        if not ok
                        else self.env._(
                            "The remote has no branch %(branch)s.", branch=branch or "?"
                        )
                    )
        except (ExecError, remote.RemoteInputError) as error:
            problem = str(error)
        now = fields.Datetime.now()
        if problem:
            self.write({"follow_error": problem, "follow_date": now})
            return None
        self.write({"follow_error": False, "follow_date": now})
        if sha == self.remote_commit:
            return None
        if not self.remote_commit and sha == self.commit:  # the first look: nothing new
            self.remote_commit = sha
            return None
        run = workspace._queue_automatic("follow")
        if run or workspace.tests_pending:
            self.remote_commit = sha
        elif workspace.tests_problem:
            self.follow_error = workspace.tests_problem  # checked again at the next pass
        return run
