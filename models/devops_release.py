"""A release: a version of a workspace's code, frozen at one commit per repository.

Made from the workspace's current commits (``_freeze``): one line per module of the
workspace (its version then and at the previous release, whether it changed, the bump the
change calls for: ``engine/release.suggest_bump``), a changelog made from the commits since
the previous release and the modules' OCA news fragments, and the workspace's build (its pip
lock).  ``draft → candidate → approved → released``: approval needs a green test run at
exactly its commits (or a manager's recorded override); *Release* tags every repository and
pushes the tags (the pipeline "Release").  ``deploy(instance)`` deploys it
(``devops.deployment``).
"""

import hashlib
import json
import posixpath

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

from ..engine import deploy, git, release, remote
from ..engine.executor import ExecError
from .utils import arg_text, form_action, stay

MANAGER = "erplibre_devops.group_devops_manager"
USER_FIELDS = {"changelog", "override_reason"}


def commit_key(commits):
    """The key of a set of commits, as a test run's (``commit_key``): {folder: sha}."""
    return hashlib.sha1(  # noqa: S324 - a key, not a signature
        json.dumps(sorted(commits.items())).encode()
    ).hexdigest()


STATES = [
    ("draft", "Draft"),
    ("candidate", "Candidate"),
    ("approved", "Approved"),
    ("released", "Released"),
    ("cancelled", "Cancelled"),
]


class DevopsRelease(models.Model):
    _name = "devops.release"
    _inherit = ["devops.input.mixin"]
    _description = "DevOps Release"
    _order = "id desc"
    _rec_name = "version"

    version = fields.Char(
        required=True,
        readonly=True,
        help="The release's name, also its git tag, such as 1.1 or 18.0.1.1.",
    )
    workspace_id = fields.Many2one(
        "devops.workspace", required=True, readonly=True, index=True, ondelete="cascade"
    )
    state = fields.Selection(STATES, default="draft", required=True, readonly=True, index=True)
    commits = fields.Text(string="Commits (JSON)", readonly=True, help="{folder: commit}")
    commit_key = fields.Char(readonly=True, index=True)
    commits_text = fields.Text(string="Commits", compute="_compute_commits_text")
    previous_id = fields.Many2one("devops.release", string="Previous release", readonly=True)
    build_id = fields.Many2one("devops.build", readonly=True, ondelete="set null")
    lock = fields.Text(related="build_id.lock", string="pip lock")
    module_ids = fields.One2many("devops.release.module", "release_id", string="Modules")
    changed_count = fields.Integer(string="Changed modules", compute="_compute_changed_count")
    changelog = fields.Text(help="Markdown; editable until the release is tagged.")
    test_run_id = fields.Many2one(
        "devops.test.run",
        string="Green test run",
        compute="_compute_test_run",
        compute_sudo=False,
        help="A passed test run at exactly the release's commits.",
    )
    approved_by_id = fields.Many2one("res.users", string="Approved by", readonly=True)
    approved_date = fields.Datetime(string="Approved on", readonly=True)
    override_reason = fields.Text(
        string="Why approve without a green test run",
        help="A manager approving without a passed test run at these commits says why here; "
        "it stays on the release.",
    )
    released_by_id = fields.Many2one("res.users", string="Released by", readonly=True)
    released_date = fields.Datetime(string="Released on", readonly=True)
    run_id = fields.Many2one("devops.pipeline.run", string="Tag run", readonly=True)
    message = fields.Text(readonly=True)
    deployment_ids = fields.One2many("devops.deployment", "release_id", string="Deployments")
    deployment_count = fields.Integer(
        string="Deployment count", compute="_compute_deployment_count"
    )
    bump_needed = fields.Boolean(
        compute="_compute_bump_needed",
        help="A changed module whose version did not move since the previous release.",
    )
    same_as_previous = fields.Boolean(
        compute="_compute_bump_needed", help="The same commits as the previous release."
    )

    _sql_constraints = [
        (
            "version_unique",
            "unique(workspace_id, version)",
            "This workspace already has a release of this version.",
        ),
    ]

    # --- Computes ------------------------------------------------------------------------

    def _commits(self):
        """{folder: commit} (an empty dict for anything else)."""
        try:
            commits = json.loads(self.commits or "{}")
        except ValueError:
            return {}
        if not isinstance(commits, dict) or not all(
            isinstance(f, str) and isinstance(c, str) for f, c in commits.items()
        ):
            return {}
        return commits

    def _compute_commits_text(self):
        for rel in self:
            rel.commits_text = "\n".join(f"{f}: {sha[:10]}" for f, sha in rel._commits().items())

    @api.depends("module_ids.changed")
    def _compute_changed_count(self):
        for rel in self:
            rel.changed_count = len(rel.module_ids.filtered("changed"))

    def _compute_test_run(self):
        Run = self.env["devops.test.run"]
        for rel in self:
            rel.test_run_id = rel.commit_key and Run.search(
                [("commit_key", "=", rel.commit_key), ("state", "=", "passed")], limit=1
            )

    @api.depends("module_ids.changed", "module_ids.bump", "module_ids.version", "commit_key")
    def _compute_bump_needed(self):
        for rel in self:
            rel.bump_needed = any(
                line.changed and line.bump != "none" and not line.bumped for line in rel.module_ids
            )
            rel.same_as_previous = bool(
                rel.previous_id and rel.commit_key and rel.commit_key == rel.previous_id.commit_key
            )

    def _compute_deployment_count(self):
        for rel in self:
            rel.deployment_count = len(rel.deployment_ids)

    def _module_versions(self):
        return {line.name: line.version for line in self.module_ids if line.version}

    # --- Creation: freeze the workspace's commits --------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su:
            vals_list = [
                {k: v for k, v in vals.items() if k in ("version", "workspace_id", "changelog")}
                for vals in vals_list
            ]
        for vals in vals_list:
            problem = release.check_release_name(vals.get("version"))
            if problem:
                raise UserError(problem)
        releases = super().create(vals_list)
        for rel in releases:
            rel.workspace_id.check_access("read")
            rel.sudo()._freeze()  # lines and facts are the app's to write
        self.env["devops.change"]._refresh_workspaces(releases.workspace_id)
        return releases

    def _executor(self):
        return self.workspace_id.sudo().machine_id._executor()

    def _folders(self):
        repos = self.workspace_id.sudo()._repos_in_order()
        return [r.folder or "." for r in repos] or ["."]

    def _freeze(self):
        """Read the workspace's commits and modules now, and what changed since the
        previous release: the module lines and the changelog."""
        self.ensure_one()
        workspace = self.workspace_id.sudo()
        try:
            executor = self._executor()
            ok, out = executor.read_stdout(git.heads_argv(self._folders()), cwd=workspace.path)
        except (ExecError, UserError) as error:
            raise UserError(str(error)) from error
        heads = git.parse_heads(out) if ok else {}
        if not heads:
            raise UserError(
                self.env._("No repository of %(path)s is cloned: Clone first.", path=workspace.path)
            )
        workspace._scan()
        previous = self.search(
            [
                ("workspace_id", "=", workspace.id),
                ("state", "in", ("approved", "released")),
                ("id", "!=", self.id),
            ],
            order="id desc",
            limit=1,
        )
        commits = {folder: head[0] for folder, head in heads.items()}
        self.write(
            {
                "commits": json.dumps(commits, sort_keys=True),
                "commit_key": commit_key(commits),
                "previous_id": previous.id,
                "build_id": self.env["devops.build"]
                .search(
                    [("workspace_id", "=", workspace.id), ("state", "=", "done")],
                    order="id desc",
                    limit=1,
                )
                .id,
            }
        )
        try:
            self._freeze_modules(executor, commits, previous)
            self._freeze_changelog(executor, commits, previous)
        except (ExecError, deploy.DeployInputError, release.ReleaseInputError) as error:
            raise UserError(str(error)) from error

    def _module_lines(self, commits):
        """[(module, folder, path in its repository)] of the workspace's own modules."""
        base = self.workspace_id.path.rstrip("/")
        lines = []
        modules = self.workspace_id.sudo().module_ids.filtered(
            lambda m: m.installable and not m.odoo_core
        )
        for module in modules:
            folder = module.repo_id.folder or "."
            if folder not in commits:
                continue
            root = f"{base}/{folder}" if folder != "." else base
            lines.append((module, folder, posixpath.relpath(module.path, root)))
        return lines

    def _freeze_modules(self, executor, commits, previous):
        old_commits = previous._commits() if previous else {}
        old_versions = previous._module_versions() if previous else {}
        lines = self._module_lines(commits)
        diffs = {}
        items = [
            (folder, old_commits[folder], commits[folder], path)
            for _module, folder, path in lines
            if old_commits.get(folder) and old_commits[folder] != commits[folder]
        ]
        if items:
            ok, out = executor.read_stdout(
                deploy.diffs_argv(items), cwd=self.workspace_id.path, env=git.GIT_ENV,
                timeout=60, limit=32 << 20,
            )  # fmt: skip
            diffs = deploy.split_by_folder(out) if ok else {}
        values = []
        for module, folder, path in lines:
            suggestion, reason = release.suggest_bump(diffs.get(f"{folder}\t{path}", ""))
            values.append(
                {
                    "name": module.name,
                    "folder": folder,
                    "path": path,
                    "old_version": old_versions.get(module.name) or False,
                    "version": module.version or False,
                    "changed": suggestion != "none",
                    "bump": suggestion,
                    "reason": reason or False,
                }
            )
        self.module_ids.unlink()
        self.write({"module_ids": [(0, 0, v) for v in values]})

    def _freeze_changelog(self, executor, commits, previous):
        old_commits = previous._commits() if previous else {}
        triples = [
            (folder, old_commits.get(folder), sha)
            for folder, sha in commits.items()
            if old_commits.get(folder) != sha
        ]
        log = []
        if triples:
            ok, out = executor.read_stdout(
                deploy.history_argv(release.LOG_FORMAT, triples), cwd=self.workspace_id.path,
                env=git.GIT_ENV, timeout=60, limit=8 << 20,
            )  # fmt: skip
            for folder, text in (deploy.split_by_folder(out) if ok else {}).items():
                log += [{**c, "repo": folder} for c in release.parse_log(text)]
        changed = self.module_ids.filtered("changed")
        base = self.workspace_id.path.rstrip("/")
        fragments = []
        if changed:
            paths = [
                f"{base}/{line.folder}/{line.path}" if line.folder != "." else f"{base}/{line.path}"
                for line in changed
            ]
            ok, out = executor.read_stdout(deploy.fragments_argv(paths), timeout=30, limit=4 << 20)
            for path, text in (deploy.split_by_folder(out) if ok else {}).items():
                fragments.append((posixpath.relpath(path, base), text.rstrip("\n")))
        self.changelog = release.changelog(self.version, log, fragments, fields.Date.today())

    # --- Actions -------------------------------------------------------------------------

    def _check_state(self, *states):
        if self.state not in states:
            labels = dict(self._fields["state"]._description_selection(self.env))
            raise UserError(
                self.env._(
                    "The release %(version)s is %(state)s: this needs it %(wanted)s.",
                    version=self.version,
                    state=labels[self.state],
                    wanted=" / ".join(labels[s] for s in states),
                )
            )

    def _check_writer(self):
        """Releases are the team's: any DevOps user may move one on; the workspace must be
        theirs to read."""
        self.check_access("write")
        self.workspace_id.check_access("read")

    def write(self, vals):
        if not self.env.su:  # the rest moves with the actions, checked there
            if set(vals) - USER_FIELDS:
                raise AccessError(
                    self.env._("Only a release's changelog and approval reason are edited.")
                )
            for rel in self:
                if "changelog" in vals and rel.state in ("released", "cancelled"):
                    raise UserError(self.env._("A tagged or cancelled release's changelog stays."))
                if "override_reason" in vals and rel.state != "candidate":
                    raise UserError(self.env._("The approval reason is given on a candidate."))
        return super().write(vals)

    def action_refresh(self):
        """Freeze the workspace's commits again (a draft only)."""
        self._ensure_one_existing()
        self._check_writer()
        self._check_state("draft")
        self.sudo()._freeze()
        return True

    def action_bump_versions(self):
        """Bump the manifests of the changed modules whose version did not move since the
        previous release (by the suggested bump), commit them (one commit per repository, as
        the user), then freeze the new commits."""
        self._ensure_one_existing()
        self._check_writer()
        self._check_state("draft")
        todo = self.module_ids.filtered(
            lambda line: line.changed and line.bump != "none" and not line.bumped
        )
        if not todo:
            raise UserError(self.env._("No changed module waits for a new version."))
        executor = self._executor()
        base = self.workspace_id.sudo().path.rstrip("/")
        by_folder = {}
        for line in todo:
            root = f"{base}/{line.folder}" if line.folder != "." else base
            manifest = f"{root}/{line.path}/__manifest__.py"
            ok, text = executor.read_stdout(["cat", "--", manifest], timeout=30)
            if not ok:
                raise UserError(self.env._("%(path)s cannot be read.", path=manifest))
            try:
                new = release.bump(line.old_version or line.version, line.bump)
                executor.write_file(
                    manifest, release.set_manifest_version(text, new).encode(), 0o644
                )
            except release.ReleaseInputError as error:
                raise UserError(
                    self.env._("%(module)s: %(error)s", module=line.name, error=error)
                ) from error
            by_folder.setdefault(root, []).append((f"{line.path}/__manifest__.py", line.name, new))
        user = self.env.user
        author = f"{user.name} <{user.email or user.login}>"
        for root, files in by_folder.items():
            message = f"[REL] {self.version}: " + ", ".join(f"{n} {v}" for _p, n, v in files)
            try:
                argv = git.commit_argv(message, author, [path for path, _n, _v in files])
                ok, out = executor.read_stdout(argv, cwd=root, env=git.GIT_ENV, timeout=60)
            except git.GitInputError as error:
                raise UserError(str(error)) from error
            if not ok:
                raise UserError(
                    self.env._("The commit in %(root)s failed: %(out)s", root=root, out=out[-800:])
                )
        self._push_bumps(list(by_folder), executor)
        self.sudo()._freeze()
        bumped = ", ".join(f"{n} {v}" for files in by_folder.values() for _p, n, v in files)
        if self.message:  # the push failed: it says so
            return stay(self.message, "warning")
        return stay(self.env._("Committed and pushed: %(bumped)s.", bumped=bumped), "success")

    def _push_bumps(self, roots, executor):
        """Push the bump commits (their branch, to origin): the team gets the versions."""
        workspace = self.workspace_id.sudo()
        base = workspace.path.rstrip("/")
        folders = {f"{base}/{f}" if f != "." else base: f for f in workspace._deploy_folders()}
        try:
            if workspace.repo_ids:
                env, pairs, problem, secrets = workspace._prepare_git_all(executor)
            else:
                env, pairs, problem, secrets = dict(git.GIT_ENV), [(".", "")], None, []
            if problem:
                raise UserError(problem)
            wanted = {folders.get(root) for root in roots}
            argv = remote.with_secret_files(
                deploy.push_heads_argv([(f, t) for f, t in pairs if f in wanted]), secrets
            )
            ok, out = executor.read_stdout(argv, cwd=base, env=env, timeout=60)
        except (ExecError, deploy.DeployInputError) as error:
            ok, out = False, str(error)
        if not ok:
            self.message = self.env._(
                "The versions are committed; pushing them failed (push them from Code): %(out)s",
                out=out.strip()[-800:],
            )

    def action_candidate(self):
        self._ensure_one_existing()
        self._check_writer()
        self._check_state("draft")
        self.sudo().state = "candidate"
        return True

    def action_back_to_draft(self):
        self._ensure_one_existing()
        self._check_writer()
        self._check_state("candidate", "approved")
        self.sudo().write(
            {"state": "draft", "approved_by_id": False, "approved_date": False,
             "override_reason": False}
        )  # fmt: skip
        return True

    def action_approve(self, override_reason=None):
        """Approve the candidate: a green test run at exactly its commits is needed, unless a
        manager gives ``override_reason`` (recorded on the release)."""
        self._ensure_one_existing()
        self._check_writer()
        self._check_state("candidate")
        reason = (
            arg_text(self.env, self.env._("The reason"), override_reason, 2000, single_line=False)
            or (self.override_reason or "").strip()
        )
        values = {"state": "approved", "approved_by_id": self.env.uid,
                  "approved_date": fields.Datetime.now()}  # fmt: skip
        if not self.test_run_id:
            if not self.env.user.has_group(MANAGER):
                if not reason:
                    raise UserError(
                        self.env._(
                            "No passed test run at exactly the commits of %(version)s: run the "
                            "tests on the workspace at these commits, or have a manager approve "
                            "it anyway (with a reason).",
                            version=self.version,
                        )
                    )
                raise AccessError(
                    self.env._("Only a DevOps manager approves without a green test run.")
                )
            if not reason:
                raise UserError(
                    self.env._(
                        "Fill in 'Why approve without a green test run' first: it stays on "
                        "the release."
                    )
                )
            values["override_reason"] = reason
        else:
            values["override_reason"] = False
            if self.test_run_id.build_id:  # the build the tests ran in
                values["build_id"] = self.test_run_id.build_id.id
        self.sudo().write(values)
        self.env["devops.change"]._refresh_workspaces(self.workspace_id, read_git=False)
        return True

    def action_release(self):
        """Tag every repository with the version (annotated) and push the tags: the
        pipeline "Release"; the release is *Released* when it succeeds."""
        self._ensure_one_existing()
        self._check_writer()
        self._check_state("approved")
        pipeline = self.env.ref("erplibre_devops.pipeline_release")
        run_id = pipeline._launch_for(
            self.workspace_id,
            {"release_id": self.id},
            link=lambda run: self.sudo().write({"run_id": run.id}),
        )
        return form_action(self.env["devops.pipeline.run"].browse(run_id), target="current")

    def _pipeline_run_is_mine(self, run):
        return self.run_id == run

    def action_cancel(self):
        self._ensure_one_existing()
        self._check_writer()
        self._check_state("draft", "candidate", "approved")
        self.sudo().state = "cancelled"
        self.env["devops.change"]._refresh_workspaces(self.workspace_id)
        return True

    def _on_pipeline_end(self, run):
        """The tag run ended."""
        if run.state == "done" and self.state == "approved":
            self.sudo().write(
                {"state": "released", "released_by_id": run.user_id.id,
                 "released_date": fields.Datetime.now(), "message": run.message}
            )  # fmt: skip
        elif run.state != "done":
            self.sudo().message = run.message

    # --- Deploy --------------------------------------------------------------------------

    def deploy(self, instance, dry_run=False, update="versions"):
        """Deploy this release to ``instance`` (a devops.instance or its id); returns the
        devops.deployment id.  A production deployment by someone who is not a DevOps
        manager waits for a manager's approval."""
        self._ensure_one_existing()
        if isinstance(instance, int) and not isinstance(instance, bool):
            instance = self.env["devops.instance"].browse(instance)
        if not isinstance(instance, models.BaseModel) or instance._name != "devops.instance":
            raise UserError(self.env._("Deploy to an instance (a devops.instance id)."))
        instance._ensure_one_existing()
        if update not in ("versions", "changed"):
            raise UserError(self.env._("update is 'versions' or 'changed', not %(v)r.", v=update))
        deployment = self.env["devops.deployment"].create(
            {"release_id": self.id, "instance_id": instance.id, "dry_run": bool(dry_run),
             "update": update}
        )  # fmt: skip
        deployment.action_deploy()
        return deployment.id

    def action_new_deployment(self):
        self._ensure_one_existing()
        return {
            "type": "ir.actions.act_window",
            "res_model": "devops.deployment",
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "current",
            "name": self.env._("Deploy %(version)s", version=self.version),
            "context": {"default_release_id": self.id},
        }

    def action_view_deployments(self):
        self._ensure_one_existing()
        action = self.env["ir.actions.act_window"]._for_xml_id("erplibre_devops.action_deployment")
        action["domain"] = [("release_id", "=", self.id)]
        return action
