"""Code and Build of a workspace: its repositories, its Odoo modules, its builds.

- *Clone* (``clone()``): the pipeline "Clone" clones each repository into its folder
  (an existing clone is adopted as it is), then scans the modules.
- *Scan* (``scan_modules()``): the Odoo source tree, the addons folders and every module
  (``engine/odoo_tree.py``), kept as ``devops.module``; the addons path follows.
- *Build* (``build()``): see ``models/devops_build.py``.
- The deploy key: an ed25519 key the app makes for the workspace; its public half is shown
  to paste into the forge, the private half is write-only (devops.secret).
"""

import json
import os
import re

from psycopg2.extras import execute_values

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import config

from ..engine import build as build_engine
from ..engine import git, odoo_tree, remote, ssh, validation
from ..engine.executor import ExecError
from .utils import arg_text, form_action, open_action

USER = "erplibre_devops.group_devops_user"
# Scan, compare and build run inside a web request: together well under the 120 s a
# worker gets in production (limit_time_real).
SCAN_TIMEOUT = 45
MANAGER = "erplibre_devops.group_devops_manager"
_REF_CHARS = re.compile(r"[A-Za-z0-9._/+-]{1,200}")
_RELATIVE_REF = re.compile(r"(HEAD|[0-9a-f]{7,40})(~[0-9]{1,4}|\^[0-9]?){0,3}")

# $1 old ref, $2 new ref, then folders: for each folder where both refs exist, a line
# "\036FOLDER" then the changed files, NUL-separated.
_CHANGED = r"""
a=$1; b=$2; shift 2
for f in "$@"; do
    git -C "$f" rev-parse -q --verify "$a^{commit}" >/dev/null 2>&1 || continue
    git -C "$f" rev-parse -q --verify "$b^{commit}" >/dev/null 2>&1 || continue
    printf '\036%s\n' "$f"
    git -C "$f" diff --name-only -z "$a" "$b" --
done
"""


class DevopsWorkspace(models.Model):
    _name = "devops.workspace"
    _inherit = ["devops.workspace", "devops.secret.mixin"]

    repo_ids = fields.One2many("devops.workspace.repo", "workspace_id", string="Repositories")
    repo_count = fields.Integer(compute="_compute_build_counts")
    module_ids = fields.One2many("devops.module", "workspace_id", string="Modules")
    module_count = fields.Integer(compute="_compute_build_counts")
    build_ids = fields.One2many("devops.build", "workspace_id", string="Builds")
    build_count = fields.Integer(compute="_compute_build_counts")
    python = fields.Char(
        default="python3",
        help="The Python interpreter builds make their virtualenv with (a name on the "
        "machine's PATH, or an absolute path).",
    )
    odoo_path = fields.Char(
        string="Odoo source", readonly=True, copy=False, help="Found by the last scan."
    )
    odoo_version = fields.Char(readonly=True, copy=False)
    addons_path = fields.Text(
        readonly=True, copy=False, help="The addons folders the last scan found, in order."
    )
    scan_date = fields.Datetime(string="Scanned on", readonly=True, copy=False)
    scan_error = fields.Text(string="Scan problem", readonly=True, copy=False)
    deploy_key_public = fields.Char(
        string="Deploy key",
        readonly=True,
        copy=False,
        help="Paste this public key into the forge (deploy keys, read access) of every "
        "private SSH repository of the workspace.",
    )
    git_root = fields.Boolean(
        compute="_compute_git_root",
        store=True,
        help="The workspace's folder is itself a git checkout (no repository, or one whose "
        "folder is the workspace's).",
    )

    @api.depends("repo_ids.folder")
    def _compute_git_root(self):
        for workspace in self:
            repos = workspace.repo_ids
            workspace.git_root = not repos or any(not r.folder for r in repos)

    def _compute_build_counts(self):
        for workspace in self:
            workspace.repo_count = len(workspace.repo_ids)
            workspace.module_count = len(workspace.module_ids)
            workspace.build_count = len(workspace.build_ids)

    # --- Deploy key --------------------------------------------------------------------

    def action_generate_deploy_key(self):
        """A new ed25519 deploy key (managers); the previous one is forgotten."""
        self._ensure_one_existing()
        if not self.env.user.has_group(MANAGER):
            raise AccessError(self.env._("Only DevOps managers can make a deploy key."))
        private, public = remote.generate_deploy_key(f"erplibre-devops {self.name}"[:100])
        self._secret_store("deploy_key", private)
        self.sudo().deploy_key_public = public
        return True

    def action_forget_deploy_key(self):
        self._ensure_one_existing()
        if not self.env.user.has_group(MANAGER):
            raise AccessError(self.env._("Only DevOps managers can forget a deploy key."))
        self._secret_store("deploy_key", False)
        self.sudo().deploy_key_public = False
        return True

    # --- Repositories ------------------------------------------------------------------

    def import_repos_yaml(self, content):
        """Add (or update, by folder) the repositories a git-aggregator ``repos.yaml``
        describes; returns how many (managers)."""
        self._ensure_one_existing()
        if not self.env.user.has_group(MANAGER):
            raise AccessError(self.env._("Only DevOps managers can change repositories."))
        content = arg_text(
            self.env, self.env._("The repos.yaml"), content, max_length=1_000_000, single_line=False
        )
        try:
            import yaml  # noqa: PLC0415 - only this import needs it

            data = yaml.safe_load(content or "")
        except ImportError as error:
            raise UserError(self.env._("PyYAML is missing: pip install PyYAML.")) from error
        except yaml.YAMLError as error:
            raise UserError(
                self.env._("This is not YAML: %(error)s", error=str(error)[:500])
            ) from error
        try:
            entries = remote.parse_repos_yaml(data)
        except remote.RemoteInputError as error:
            raise UserError(str(error)) from error
        Repo = self.env["devops.workspace.repo"]
        for sequence, entry in enumerate(entries, start=1):
            values = {
                "url": entry["url"],
                "branch": entry["branch"] or False,
                "depth": entry["depth"] or 0,
                "sequence": sequence * 10,
            }
            existing = self.repo_ids.filtered(lambda r, e=entry: (r.folder or "") == e["folder"])
            if existing:
                existing.write(values)
            else:
                Repo.create({**values, "workspace_id": self.id, "folder": entry["folder"]})
        return len(entries)

    def clone(self):
        """Clone every repository into its folder (the "Clone" pipeline); returns the
        pipeline run's id."""
        self._ensure_one_existing()
        self.check_access("read")
        if not self.repo_ids:
            raise UserError(
                self.env._(
                    "%(name)s has no repository: add one on its Repositories tab (or import "
                    "a repos.yaml) first.",
                    name=self.name,
                )
            )
        pipeline = self.env.ref("erplibre_devops.pipeline_clone")
        return pipeline.launch(self)

    def action_clone(self):
        run_id = self.clone()
        return form_action(self.env["devops.pipeline.run"].browse(run_id), target="current")

    def _repos_in_order(self):
        """The workspace's own folder first (a clone needs it empty), then by sequence."""
        return self.repo_ids.sorted(lambda r: (bool(r.folder), r.sequence, r.id))

    def _deploy_folders(self):
        """The folders of its repositories ("." for the workspace's own), as releases key
        their commits."""
        return [r.folder or "." for r in self._repos_in_order()] or ["."]

    def _git_secret_dir(self, executor):
        """Where this workspace's git secrets go on its machine (never in the workspace: a
        clone into its folder needs it empty)."""
        name = f"{re.sub(r'[^A-Za-z0-9_.-]', '_', self.env.cr.dbname)}-workspace-{self.id}"
        if self.machine_id.kind == "local":
            base = config.get("data_dir") or "/tmp"  # noqa: S108 - Odoo's own fallback
            return os.path.join(base, "erplibre_devops", "git", name)
        return f"{executor.home().rstrip('/')}/.cache/erplibre-devops/git/{name}"

    def _prepare_git(self, repo, executor):
        """(environment for git, problem, secret files): the files git needs for ``repo``
        written on the machine (known host, deploy key, token, askpass), never in a command
        line; the secret ones are to be removed as soon as git ends
        (``remote.with_secret_files``)."""
        env = dict(remote.GIT_ENV_BASE)
        parsed = remote.parse_url(repo.url)
        if parsed.kind not in ("ssh", "https", "http"):
            return env, None, []
        base = self._git_secret_dir(executor)
        paths = remote.secret_files(base, repo.id)
        if parsed.kind == "ssh":
            host, port = parsed.host, parsed.port or 22
            if not repo.host_key:
                return env, self._offer_host_key(repo, executor, host, port), []
            secrets = self._secret_values()
            executor.write_file(
                paths["known_hosts"],
                (remote.known_hosts_line(host, port, repo.host_key) + "\n").encode(),
            )
            key = secrets.get("deploy_key")
            if key:
                executor.write_file(paths["key"], key.encode())
            env.update(
                remote.git_env(
                    ssh_key_path=paths["key"] if key else None,
                    known_hosts_path=paths["known_hosts"],
                )
            )
            return env, None, [paths["key"]] if key else []
        token = repo._secret_values().get("token")
        if token:
            executor.write_file(paths["token"], token.encode())
            executor.write_file(paths["askpass"], remote.ASKPASS_SCRIPT.encode(), mode=0o700)
            env.update(
                remote.git_env(
                    askpass_path=paths["askpass"],
                    token_path=paths["token"],
                    token_user=repo.token_user or None,
                )
            )
            return env, None, [paths["token"]]
        return env, None, []

    def _prepare_git_all(self, executor):
        """(environment, [(folder, token file)], problem, secret files) for git commands
        that reach the remotes of every repository at once (the Update pipeline's pull):
        one known_hosts with every pinned key, the deploy key, each repository's token file
        (the secret ones to remove as soon as git ends)."""
        env, pairs, known, secrets = dict(remote.GIT_ENV_BASE), [], [], []
        base = self._git_secret_dir(executor)
        key_path = askpass = None
        for repo in self._repos_in_order():
            parsed = remote.parse_url(repo.url)
            token_file = ""
            if parsed.kind == "ssh":
                if not repo.host_key:
                    problem = self._offer_host_key(repo, executor, parsed.host, parsed.port or 22)
                    return env, [], problem, []
                known.append(remote.known_hosts_line(parsed.host, parsed.port or 22, repo.host_key))
            elif parsed.kind in ("https", "http"):
                token = repo._secret_values().get("token")
                if token:
                    paths = remote.secret_files(base, repo.id)
                    executor.write_file(paths["token"], token.encode())
                    token_file, askpass = paths["token"], paths["askpass"]
                    secrets.append(token_file)
            pairs.append((repo.folder or ".", token_file))
        paths = remote.secret_files(base, self.id)  # the workspace's own files
        if known:
            known_path = f"{base}/workspace-{self.id}.known_hosts"
            executor.write_file(known_path, ("\n".join(known) + "\n").encode())
            key = self._secret_values().get("deploy_key")
            if key:
                key_path = paths["key"]
                executor.write_file(key_path, key.encode())
                secrets.append(key_path)
            env.update(remote.git_env(ssh_key_path=key_path, known_hosts_path=known_path))
        if askpass:
            executor.write_file(askpass, remote.ASKPASS_SCRIPT.encode(), mode=0o700)
            env["GIT_ASKPASS"] = askpass
        return env, pairs, None, secrets

    def _offer_host_key(self, repo, executor, host, port):
        ok, out = executor.read_stdout(remote.keyscan_argv(host, port), timeout=30)
        keys = remote.parse_keyscan(out) if ok else []
        if not keys:
            return self.env._(
                "The git server %(host)s:%(port)s did not show its SSH host key from "
                "%(machine)s: %(error)s",
                host=host,
                port=port,
                machine=self.machine_id.display_name,
                error=(out or "").strip()[-500:] or self.env._("no answer"),
            )
        offered = ssh.fingerprint(ssh.parse_host_key(keys[0]))
        repo.sudo().write(
            {
                "host_key_offered": keys[0],
                "host_key_offered_fingerprint": offered,
                "state": "error",
                "message": self.env._("Host key to accept: %(fp)s", fp=offered),
            }
        )
        return self.env._(
            "First connection to the git server %(host)s:%(port)s: check that its host key "
            "fingerprint is %(fingerprint)s, then a DevOps manager accepts it on the "
            "repository %(folder)s (Accept host key) and you clone again.",
            host=host,
            port=port,
            fingerprint=offered,
            folder=repo.display_folder,
        )

    # --- Odoo awareness ----------------------------------------------------------------

    def scan_modules(self):
        """Find the Odoo source tree, the addons folders and every module of the workspace
        (kept as devops.module); returns how many modules were found."""
        self._ensure_one_existing()
        self.check_access("read")
        if not self.env.su and not self.env.user.has_group(USER):
            raise AccessError(self.env._("Only DevOps users can scan workspaces."))
        return self._scan()

    def action_scan_modules(self):
        count = self.scan_modules()
        return self.machine_id._notify(
            self.env._(
                "%(count)s modules found in %(name)s (Odoo %(version)s).",
                count=count,
                name=self.name,
                version=self.odoo_version or "?",
            ),
            "success",
        )

    def _scan(self):
        """Scan (``engine/odoo_tree``) and store what was found; returns the module count.
        A machine that cannot be reached or a folder that does not exist is a UserError,
        also kept on the workspace (``scan_error``)."""
        self.ensure_one()
        workspace = self.sudo()
        try:
            scan = odoo_tree.run_scan(
                workspace.machine_id._executor(), self.path, python="python3", timeout=SCAN_TIMEOUT
            )
            out = ""
        except (ExecError, odoo_tree.ScanError) as error:
            out, scan = str(error), None
        if scan is None:
            message = self.env._(
                "The scan of %(path)s failed: %(error)s", path=self.path, error=out.strip()[-1000:]
            )
            workspace.write({"scan_error": message, "scan_date": fields.Datetime.now()})
            raise UserError(message)
        trees = sorted(scan["odoo"], key=lambda t: (t["path"].count("/"), t["path"]))
        workspace._store_modules(scan, trees[0]["path"] if trees else None)
        workspace.write(
            {
                "odoo_path": trees[0]["path"] if trees else False,
                "odoo_version": trees[0]["version"] if trees else False,
                "addons_path": ",".join(odoo_tree.addons_path(scan)) or False,
                "scan_date": fields.Datetime.now(),
                "scan_error": "\n".join(
                    f"{e.get('path')}: {e.get('error')}" for e in scan["errors"][:50]
                )
                or False,
            }
        )
        return len(scan["modules"])

    def _store_modules(self, scan, odoo_path):
        """Keep devops.module in step with ``scan``: by path, a module found again is
        written only where it changed, a new one is created, a gone one deleted; the
        dependency links are set in one statement each way (a rescan of an unchanged
        workspace of 2 000 modules writes nothing)."""
        Module = self.env["devops.module"].sudo()
        repos = [
            (f"{self.path.rstrip('/')}/{r.folder}" if r.folder else self.path.rstrip("/"), r.id)
            for r in self.repo_ids
        ]
        repos.sort(key=lambda item: -len(item[0]))
        order = {path: index for index, path in enumerate(odoo_tree.addons_path(scan))}
        core = f"{odoo_path}/" if odoo_path else None

        def repo_of(path):
            return next((rid for root, rid in repos if f"{path}/".startswith(f"{root}/")), False)

        found = sorted(
            scan["modules"], key=lambda m: (order.get(m.get("addons_dir"), 1e9), m["path"])
        )
        wanted = {}
        for module in found:
            wanted[module["path"]] = {
                "name": module["name"],
                "addons_dir": module.get("addons_dir") or False,
                "repo_id": repo_of(module["path"]),
                "version": module.get("version") or False,
                "summary": (module.get("summary") or "")[:500] or False,
                "author": (module.get("author") or "")[:500] or False,
                "category": (module.get("category") or "")[:200] or False,
                "license": module.get("license") or False,
                "depends": ",".join(module.get("depends") or []) or False,
                "external_python": ",".join(module.get("external_python") or []) or False,
                "external_bin": ",".join(module.get("external_bin") or []) or False,
                "has_requirements": bool(module.get("requirements")),
                "installable": bool(module.get("installable", True)),
                "auto_install": bool(module.get("auto_install")),
                "application": bool(module.get("application")),
                "odoo_core": bool(core and module["path"].startswith(core)),
                "missing_depends": False,
            }
        names = [*next(iter(wanted.values()), {}).keys()]
        existing = {
            row["path"]: row
            for row in Module.search_read([("workspace_id", "=", self.id)], ["path", *names])
        }
        Module.browse([row["id"] for path, row in existing.items() if path not in wanted]).unlink()
        for path, values in wanted.items():
            row = existing.get(path)
            if row is None:
                continue
            changed = {
                name: value
                for name, value in values.items()
                if (row[name][0] if isinstance(row[name], tuple) else row[name]) != value
            }
            if changed:
                Module.browse(row["id"]).write(changed)
        created = Module.create(
            [
                {**values, "workspace_id": self.id, "path": path}
                for path, values in wanted.items()
                if path not in existing
            ]
        )
        ids = {row["path"]: row["id"] for path, row in existing.items() if path in wanted}
        ids.update({module.path: module.id for module in created})
        by_name = {}
        for path, values in wanted.items():  # in addons path order: the first one wins
            by_name.setdefault(values["name"], ids[path])
        pairs, missing = set(), {}
        for path, values in wanted.items():
            for name in (values["depends"] or "").split(","):
                if name in by_name:
                    pairs.add((ids[path], by_name[name]))
                elif name:
                    missing.setdefault(ids[path], []).append(name)
        self._set_module_links(list(ids.values()), pairs)
        for module_id, missing_names in missing.items():
            Module.browse(module_id).missing_depends = ",".join(missing_names)
        modules = Module.browse(list(ids.values()))
        modules.invalidate_recordset(["depends_ids"])
        return modules

    def _set_module_links(self, module_ids, pairs):
        """The dependency links of ``module_ids`` become exactly ``pairs``."""
        cr = self.env.cr
        cr.execute(
            "SELECT module_id, depends_id FROM devops_module_depends_rel WHERE module_id = ANY(%s)",
            [module_ids],
        )
        current = set(cr.fetchall())
        gone, new = current - pairs, pairs - current
        if gone:
            cr.execute(
                "DELETE FROM devops_module_depends_rel WHERE (module_id, depends_id) IN %s",
                [tuple(gone)],
            )
        if new:
            execute_values(
                cr._obj,
                "INSERT INTO devops_module_depends_rel (module_id, depends_id) VALUES %s "
                "ON CONFLICT DO NOTHING",
                sorted(new),
            )

    def changed_modules(self, from_ref, to_ref, impacted=False):
        """The technical names of the modules whose files changed between the commits
        ``from_ref`` and ``to_ref`` (in any repository of the workspace where both exist);
        with ``impacted``, plus every module that depends on them, transitively."""
        self._ensure_one_existing()
        self.check_access("read")
        if not self.env.su and not self.env.user.has_group(USER):
            raise AccessError(self.env._("Only DevOps users can compare commits."))
        if not isinstance(impacted, bool):
            raise UserError(self.env._("impacted is true or false, not %(value)r.", value=impacted))
        refs = [self._check_ref(ref) for ref in (from_ref, to_ref)]
        base = self.path.rstrip("/")
        folders = [f"{base}/{r.folder}" if r.folder else base for r in self.repo_ids] or [base]
        argv = ["/bin/sh", "-c", _CHANGED, "devops-changed", *refs, *folders]
        ok, out = (
            self.sudo()
            .machine_id._executor()
            .read_stdout(argv, env=git.GIT_ENV, timeout=45, limit=16 << 20)
        )
        if not ok:
            raise UserError(self.env._("git diff failed: %(error)s", error=out.strip()[-1000:]))
        paths, folder = [], None
        for chunk in out.split("\0"):
            while chunk.startswith("\036"):
                line, _newline, chunk = chunk.partition("\n")
                folder = line[1:]
            if chunk and folder:
                paths.append(f"{folder}/{chunk}")
        if not self.module_ids:
            self._scan()
        modules = [{"name": m.name, "path": m.path} for m in self.sudo().module_ids]
        names = odoo_tree.modules_of_paths(modules, paths)
        if impacted and names:
            graph = {}
            for module in self.sudo().module_ids:
                graph.setdefault(module.name, set()).update(
                    n for n in (module.depends or "").split(",") if n
                )
            names = sorted(set(names) | set(odoo_tree.dependents(graph, names)))
        return names

    def _check_ref(self, ref):
        ref = arg_text(self.env, self.env._("The commit"), ref, max_length=200)
        if not ref or not (
            _RELATIVE_REF.fullmatch(ref) or (_REF_CHARS.fullmatch(ref) and _check_ref_name(ref))
        ):
            raise UserError(
                self.env._(
                    "'%(ref)s' is not a commit, branch or tag name (such as main, v1.2, "
                    "HEAD~1 or a commit id).",
                    ref=ref,
                )
            )
        return ref

    # --- Builds ------------------------------------------------------------------------

    def build(self, adopt_path=None, force=False):
        """Prepare the workspace's Python environment at its current commits; returns the
        devops.build id.  A successful build of the same fingerprint (commits, requirement
        files, Python version, build pipeline) whose virtualenv still exists is reused.
        ``adopt_path``: adopt that existing virtualenv instead of making one (its pip
        freeze is still recorded).  ``force``: build again even when one could be reused."""
        self._ensure_one_existing()
        self.check_access("read")
        user = self.env.user
        if not self.env.su and not user.has_group(USER):
            raise AccessError(self.env._("Only DevOps users can build."))
        # pip runs setup code from the requirements: a command of one's own, in effect.
        self.env["devops.exec"]._check_may_run_own_commands(self.machine_id)
        if adopt_path:
            adopt_path = arg_text(self.env, self.env._("The virtualenv"), adopt_path)
            problem = validation.check_absolute_path(adopt_path)
            if problem:
                raise UserError(self.env._(problem.template, **problem.params))
            adopt_path = validation.normalize_path(adopt_path)
        workspace = self.sudo()
        try:
            python = build_engine.check_python(workspace.python or "python3")
        except build_engine.BuildInputError as error:
            raise UserError(str(error)) from error
        workspace._scan()
        Build = self.env["devops.build"].sudo()
        files, requirements = Build._requirements_of(workspace)
        base = self.path.rstrip("/")
        folders = [f"{base}/{r.folder}" if r.folder else base for r in workspace.repo_ids]
        executor = workspace.machine_id._executor()
        interpreter = f"{adopt_path}/bin/python" if adopt_path else python
        dockerfile = f"{base}/Dockerfile"
        # A repository's own requirements.txt at its top (OCA repositories list their
        # modules' Python dependencies there; a repository without Odoo, its own).
        roots = [f"{folder}/requirements.txt" for folder in folders or [base]]
        roots = [path for path in dict.fromkeys(roots) if path not in files]
        ok, out = executor.read_stdout(
            build_engine.facts_argv(interpreter, folders or [base], [*files, *roots, dockerfile]),
            timeout=30,
        )
        if not ok:
            raise UserError(
                self.env._(
                    "The build could not read the workspace with %(python)s: %(error)s",
                    python=interpreter,
                    error=out.strip()[-1000:],
                )
            )
        facts = build_engine.parse_facts(out)
        files += [path for path in roots if facts["files"].get(path)]
        pipeline = self.env.ref("erplibre_devops.pipeline_build")
        signature = [Build._pipeline_signature(pipeline), Build._pip_options()]
        fingerprint = build_engine.fingerprint(facts, requirements, signature, adopt_path or "")
        # The same Python environment at other commits (what test runs of new commits reuse:
        # the code is the workspace's checkout, the virtualenv only holds the requirements).
        env_fingerprint = build_engine.fingerprint(
            {**facts, "commits": {}}, requirements, signature, adopt_path or ""
        )
        if not force:
            found = Build.search(
                [("workspace_id", "=", self.id), ("fingerprint", "=", fingerprint),
                 ("state", "=", "done")],
                order="id desc",
                limit=1,
            )  # fmt: skip
            if not found and self.env.context.get("devops_build_same_env"):
                found = Build.search(
                    [("workspace_id", "=", self.id), ("env_fingerprint", "=", env_fingerprint),
                     ("state", "=", "done")],
                    order="id desc",
                    limit=1,
                )  # fmt: skip
            if found and executor.read_stdout(["test", "-x", f"{found.venv_path}/bin/python"])[0]:
                found.reuse_count += 1
                return found.id
        build = Build.create(
            {
                "name": Build._fresh_name(self),
                "workspace_id": self.id,
                "fingerprint": fingerprint,
                "env_fingerprint": env_fingerprint,
                "python": interpreter,
                "python_version": (facts.get("python") or "").split(" ")[0][:50],
                "venv_path": adopt_path or build_engine.venv_path(self.path, fingerprint),
                "adopted": bool(adopt_path),
                "commits": json.dumps(
                    {f.removeprefix(base).lstrip("/"): sha for f, sha in facts["commits"].items()}
                ),
                "requirement_files": "\n".join(files) or False,
                "dockerfile": bool(facts["files"].get(dockerfile)),
                "requirements": "\n".join(requirements) or False,
                "user_id": user.id,
                "date_start": fields.Datetime.now(),
            }
        )
        try:
            build.run_id = pipeline.launch(self, {"build_id": build.id})
        except UserError:  # another run holds the workspace: no build left queued forever
            build.unlink()
            raise
        return build.id

    def action_build(self):
        build_id = self.build()
        return form_action(self.env["devops.build"].browse(build_id), target="current")

    def action_view_builds(self):
        self._ensure_one_existing()
        return open_action(
            self.env, "erplibre_devops.action_build", [("workspace_id", "=", self.id)]
        )

    def action_view_modules(self):
        self._ensure_one_existing()
        return open_action(
            self.env, "erplibre_devops.action_module", [("workspace_id", "=", self.id)]
        )

    def action_view_repos(self):
        self._ensure_one_existing()
        return open_action(
            self.env,
            "erplibre_devops.action_workspace_repo",
            [("workspace_id", "=", self.id)],
            {"default_workspace_id": self.id},
        )

    def _clean_builds(self):
        """Keep the last N finished builds (Settings) and those an instance uses; remove
        the others and their virtualenvs (never an adopted one)."""
        self.ensure_one()
        param = self.env["ir.config_parameter"].sudo().get_param("erplibre_devops.build_keep")
        try:
            keep = max(1, int(param or 5))
        except ValueError:
            keep = 5
        builds = (
            self.env["devops.build"]
            .sudo()
            .search(
                [("workspace_id", "=", self.id), ("state", "in", ("done", "failed", "cancelled"))],
                order="id desc",
            )
        )
        kept = builds[:keep] | builds.filtered("instance_ids")
        old = builds - kept
        if not old:
            return
        in_use = set(kept.mapped("venv_path"))
        paths = {b.venv_path for b in old if b.venv_path and not b.adopted} - in_use
        images = {b.image for b in old if b.image} - set(kept.mapped("image"))
        for tag in sorted(images):
            try:
                argv = build_engine.image_remove_argv(tag)
            except build_engine.BuildInputError:
                continue
            self.env["devops.exec"].sudo()._enqueue(
                self.machine_id, argv, cwd=self.path, stage="build", workspace=self,
                builtin=True, title=self.env._("Remove the old image %(tag)s", tag=tag),
            )  # fmt: skip
        for path in sorted(paths):
            try:
                argv = build_engine.remove_venv_argv(path)
            except build_engine.BuildInputError:
                continue
            self.env["devops.exec"].sudo()._enqueue(
                self.machine_id, argv, cwd=self.path, stage="build", workspace=self,
                builtin=True, title=self.env._("Remove the old virtualenv %(path)s", path=path),
            )  # fmt: skip
        old.unlink()

    # --- New Odoo instance -------------------------------------------------------------

    def action_new_instance(self):
        """The New Odoo instance dialog (managers)."""
        self._ensure_one_existing()
        wizard = self.env["devops.instance.new.wizard"].create({"workspace_id": self.id})
        return form_action(wizard, self.env._("New Odoo instance on %(name)s", name=self.name))


def _check_ref_name(ref):
    try:
        git.check_ref_name(ref)
    except git.GitInputError:
        return False
    return True
