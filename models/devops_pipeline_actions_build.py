"""Built-in actions of the Code and Build stages: clone, scan, build, a new Odoo instance.

They are steps of the pipelines "Clone", "Build" and "New Odoo instance" (data file
``devops_pipeline_data.xml``), written like every action (``devops_pipeline_actions.py``).
"""

import re

from odoo import api, fields, models

from ..engine import build as engine
from ..engine import git, remote, service
from ..engine.executor import ExecError
from .devops_pipeline_actions import Outcome, action, done, failed, skipped


class DevopsPipelineActions(models.AbstractModel):
    _inherit = "devops.pipeline.actions"

    # --- Clone -----------------------------------------------------------------------

    @action("git_clone", "Git: clone the workspace's repositories", ("workspace",))
    def _action_git_clone(self, step):
        run = step.run_id
        workspace = run.workspace_id.sudo()
        repos = workspace._repos_in_order()
        if not repos:
            return failed(self.env._("The workspace has no repository to clone."))
        try:
            ok, out = workspace.machine_id._executor().read_stdout(
                ["mkdir", "-p", "--", workspace.path], timeout=30
            )
        except ExecError as error:
            ok, out = False, str(error)
        if not ok:
            return failed(
                self.env._(
                    "The folder %(path)s could not be made: %(error)s",
                    path=workspace.path,
                    error=out.strip()[-500:],
                )
            )
        run._set_data(clone_todo=repos.ids, clone_done=[])
        return self._clone_next(step)

    @api.model
    def _clone_next(self, step):
        run = step.run_id
        data = run._data()
        todo = data.get("clone_todo") or []
        workspace = run.workspace_id.sudo()
        if not todo:
            count = workspace._scan()
            workspace.with_context(devops_git_soft=True)._check_location()
            return done(
                self.env._(
                    "%(repos)s repositories ready; %(count)s modules found.",
                    repos=len(data.get("clone_done") or []),
                    count=count,
                )
            )
        repo = self.env["devops.workspace.repo"].sudo().browse(todo[0]).exists()
        if not repo:
            run._set_data(clone_todo=todo[1:])
            return self._clone_next(step)
        try:
            executor = workspace.machine_id._executor()
            env, problem, secrets = workspace._prepare_git(repo, executor)
            argv = remote.with_secret_files(
                remote.clone_argv(
                    repo.url, repo.folder or ".", repo.branch or None, repo.depth or None
                ),
                secrets,
            )
        except (ExecError, remote.RemoteInputError) as error:
            env, problem = None, str(error)
        if problem:
            repo.write({"state": "error", "message": problem})
            return failed(problem)
        done_count = len(data.get("clone_done") or [])
        step.message = self.env._(
            "%(number)s of %(total)s: %(url)s into %(folder)s",
            number=done_count + 1,
            total=done_count + len(todo),
            url=repo.url,
            folder=repo.display_folder,
        )
        return self._queue(
            step,
            argv,
            env=env,
            title=self.env._(
                "clone %(url)s into %(folder)s", url=repo.url, folder=repo.display_folder
            ),
        )

    @api.model
    def _after_git_clone(self, step, exec_run):
        run = step.run_id
        data = run._data()
        todo = data.get("clone_todo") or []
        repo = self.env["devops.workspace.repo"].sudo().browse(todo[:1]).exists()
        found = remote.parse_clone_output(exec_run.output or "")
        if repo and not found:  # its last line lost in a long output: ask the clone
            try:
                ok, out = (
                    run.workspace_id.sudo()
                    .machine_id._executor()
                    .read_stdout(remote.head_argv(repo.folder or "."), cwd=run.workspace_id.path)
                )
            except ExecError:
                ok, out = False, ""
            head = remote.parse_head(out) if ok else None
            found = {"action": "cloned", "sha": head[0] if head else ""}
        if repo:
            message = False
            if found.get("action") == "adopted":
                message = self.env._("Adopted as it was.")
                if found.get("other_origin"):
                    message = self.env._(
                        "Adopted as it was; its origin is %(origin)s.",
                        origin=found["other_origin"],
                    )
            values = {
                "state": "cloned",
                "commit": found.get("sha") or False,
                "fetch_date": exec_run.date_end,
                "message": message,
            }
            branch = found.get("branch")
            if not repo.branch and branch and branch != "HEAD":  # say what was cloned
                values["branch"] = branch
            repo.write(values)
        run._set_data(clone_todo=todo[1:], clone_done=[*data.get("clone_done", []), *todo[:1]])
        return self._clone_next(step)

    @api.model
    def _failed_git_clone(self, step, exec_run):
        todo = step.run_id._data().get("clone_todo") or []
        repo = self.env["devops.workspace.repo"].sudo().browse(todo[:1]).exists()
        problem = exec_run._problem()
        if repo:
            repo.write({"state": "error", "message": problem})
        return failed(problem)

    # --- Update of a workspace of several repositories ---------------------------------

    @api.model
    def _multi_checkout(self, step):
        run = step.run_id
        workspace = run.workspace_id.sudo()
        folders = [repo.folder or "." for repo in workspace._repos_in_order()]
        try:
            executor = workspace.machine_id._executor()
            ok, out = executor.read_stdout(git.heads_argv(folders), cwd=workspace.path)
            env, pairs, problem, secrets = workspace._prepare_git_all(executor)
            argv = remote.with_secret_files(
                git.multi_checkout_argv(pairs, run._param("ref") or None), secrets
            )
        except (ExecError, git.GitInputError, remote.RemoteInputError) as error:
            return failed(str(error))
        if problem:
            return failed(problem)
        heads = git.parse_heads(out) if ok else {}
        if not heads:
            return failed(
                self.env._("No repository of %(path)s is cloned: Clone first.", path=workspace.path)
            )
        run._set_data(old_heads=heads)
        return self._queue(step, argv, env=env)

    @api.model
    def _after_multi_checkout(self, step):
        run = step.run_id
        workspace = run.workspace_id.sudo()
        old = run._data()["old_heads"]
        executor = workspace.machine_id._executor()
        ok, out = executor.read_stdout(git.heads_argv(list(old)), cwd=workspace.path)
        new = git.parse_heads(out) if ok else {}
        moved = [(f, old[f][0], new[f][0]) for f in old if f in new and new[f][0] != old[f][0]]
        changed = []
        if moved:
            ok, out = executor.read_stdout(
                git.multi_changed_argv(moved), cwd=workspace.path, env=git.GIT_ENV,
                limit=16 << 20,
            )  # fmt: skip
            changed = git.parse_multi_changed(out) if ok else []
        run._set_data(new_heads=new, changed=changed)
        for repo in workspace.repo_ids:
            head = new.get(repo.folder or ".")
            if head:
                repo.write({"commit": head[0], "fetch_date": fields.Datetime.now()})
        if not moved:
            return done(self.env._("Every repository was up to date."))
        return done(
            self.env._(
                "%(moved)s: %(count)s files changed.",
                moved=", ".join(f"{f} {a[:8]} → {b[:8]}" for f, a, b in moved),
                count=len(changed),
            )
        )

    @api.model
    def _pip_into_build(self, step, build):
        """The update's pip step for an instance made from a build: the requirement files
        the update changed, into the build's virtualenv (an adopted one is left alone)."""
        if build.adopted:
            return skipped(
                self.env._("The instance runs in an adopted virtualenv: it is left as it is.")
            )
        base = step.run_id.workspace_id.path.rstrip("/")
        files = [
            f"{base}/{path}"
            for path in step.run_id._data().get("changed") or []
            if path == "requirements.txt" or path.endswith("/requirements.txt")
        ]
        if not files:
            return skipped(self.env._("No requirement file changed."))
        argv = engine.pip_install_argv(build.venv_path, files, [], build._pip_options())
        return self._queue(step, argv, env={"PIP_NO_INPUT": "1"})

    @api.model
    def _multi_rollback(self, step):
        run = step.run_id
        data = run._data()
        old, new = data["old_heads"], data.get("new_heads")
        if new is None:  # the checkout failed half-way: where is each one now?
            workspace = run.workspace_id.sudo()
            try:
                ok, out = workspace.machine_id._executor().read_stdout(
                    git.heads_argv(list(old)), cwd=workspace.path
                )
            except ExecError as error:
                return failed(str(error))
            new = git.parse_heads(out) if ok else {}
        items = [
            (f, branch, sha) for f, (sha, branch) in old.items() if new.get(f, [sha])[0] != sha
        ]
        if not items:
            return skipped(self.env._("No repository was moved."))
        try:
            argv = git.multi_rollback_argv(items)
        except git.GitInputError as error:
            return failed(str(error))
        return self._queue(step, argv)

    # --- Scan ------------------------------------------------------------------------

    @action("scan_modules", "Odoo: scan the modules", ("workspace", "instance"))
    def _action_scan_modules(self, step):
        workspace = step.run_id.workspace_id.sudo()
        count = workspace._scan()
        return done(
            self.env._(
                "%(count)s modules; Odoo %(version)s.",
                count=count,
                version=workspace.odoo_version or "?",
            )
        )

    # --- Build -----------------------------------------------------------------------

    @api.model
    def _build_of(self, step):
        """The build a run works on (parameter build_id): of the run's workspace only."""
        return step.run_id._param_record("build_id", "devops.build")

    @api.model
    def _own_build(self, step):
        """The build this run makes: queued for it, or already its own; None otherwise."""
        run = step.run_id
        build = self._build_of(step)
        if not build or (build.run_id and build.run_id != run) or build.state in ("done",):
            return None
        # pip runs the requirements' setup code: a command of one's own, in effect.
        self.env["devops.exec"].with_user(run.user_id)._check_may_run_own_commands(run.machine_id)
        if not build.run_id:
            build.write({"run_id": run.id, "state": "running"})
        elif build.state == "queued":
            build.state = "running"
        return build

    @action("build_venv", "Build: make the virtualenv", ("workspace",))
    def _action_build_venv(self, step):
        build = self._own_build(step)
        if build is None:
            return failed(self.env._("No build to make: start one with Build on a workspace."))
        if build.adopted:
            return self._queue(
                step, engine.check_venv_argv(build.venv_path), env={},
                title=self.env._("check the virtualenv %(path)s", path=build.venv_path),
            )  # fmt: skip
        python = build.workspace_id.python or "python3"
        return self._queue(step, engine.venv_argv(python, build.venv_path), env={})

    @action("build_pip", "Build: pip install the requirements", ("workspace",))
    def _action_build_pip(self, step):
        build = self._own_build(step)
        if build is None:
            return failed(self.env._("No build to make: start one with Build on a workspace."))
        if build.adopted:
            return skipped(self.env._("An adopted virtualenv is used as it is."))
        files = [f for f in (build.requirement_files or "").split("\n") if f]
        requirements = [r for r in (build.requirements or "").split("\n") if r]
        if not files and not requirements:
            return skipped(self.env._("No requirement to install."))
        argv = engine.pip_install_argv(build.venv_path, files, requirements, build._pip_options())
        return self._queue(step, argv, env={"PIP_NO_INPUT": "1"})

    @api.model
    def _failed_build_pip(self, _step, exec_run):
        lines = [line for line in (exec_run.output or "").splitlines() if line.strip()]
        errors = [line for line in lines if line.lstrip().lower().startswith("error")]
        return failed(
            self.env._(
                "pip could not install the requirements (%(state)s). %(error)s\n"
                "A package that compiles needs its system libraries on the machine (such as "
                "libldap2-dev and libsasl2-dev for python-ldap); an offline machine needs pip "
                "options (Settings: --no-index --find-links …); or adopt a virtualenv that "
                "works. The whole output: the step's run.\n\n%(tail)s",
                state=exec_run._problem().split(":")[0],
                error=(errors[-1].strip() if errors else ""),
                tail="\n".join(lines[-15:]),
            )
        )

    @action("build_freeze", "Build: record pip freeze as the lock", ("workspace",))
    def _action_build_freeze(self, step):
        build = self._own_build(step)
        if build is None:
            return failed(self.env._("No build to make: start one with Build on a workspace."))
        return self._queue(step, engine.freeze_argv(build.venv_path), env={})

    @api.model
    def _after_build_freeze(self, step, exec_run):
        build = self._build_of(step)
        stderr = set((exec_run.output_stderr or "").splitlines())
        packages = [
            line
            for line in (exec_run.output or "").splitlines()
            if line.strip() and line not in stderr and ("==" in line or " @ " in line)
        ]
        build.lock = "\n".join(packages)
        return done(self.env._("%(count)s packages locked.", count=len(packages)))

    @action("build_image", "Build: the Docker image (when there is a Dockerfile)", ("workspace",))
    def _action_build_image(self, step):
        build = self._own_build(step)
        if build is None:
            return failed(self.env._("No build to make: start one with Build on a workspace."))
        if not build.dockerfile:
            return skipped(self.env._("No Dockerfile in the workspace."))
        workspace = build.workspace_id
        tag = engine.image_tag(workspace.id, build.fingerprint)
        build.image = tag
        return self._queue(
            step, engine.image_build_argv(workspace.path, tag, build.fingerprint), env={}
        )

    @api.model
    def _after_build_image(self, step, _exec_run):
        return done(self.env._("Image %(tag)s built.", tag=self._build_of(step).image))

    @api.model
    def _failed_build_image(self, step, exec_run):
        self._build_of(step).image = False
        return failed(exec_run._problem())

    @action("wait_build", "Wait for the build", ("instance", "workspace"))
    def _action_wait_build(self, step):
        if not self._build_of(step):
            return skipped(self.env._("No build given."))
        return self._check_wait_build(step)

    @api.model
    def _check_wait_build(self, step):
        return self._build_outcome(self._build_of(step), wait=30)

    @api.model
    def _build_outcome(self, build, wait):
        """A step waiting for ``build``: done when it is, failed when it failed (or is
        gone), else checked again in ``wait`` seconds (its end wakes the step sooner)."""
        if not build:
            return failed(self.env._("The build was deleted."))
        if build.state == "done":
            return done(self.env._("%(name)s is ready.", name=build.name))
        if build.state in ("failed", "cancelled"):
            return failed(
                self.env._(
                    "%(name)s did not succeed: %(message)s",
                    name=build.name,
                    message=build.message or build.state,
                )
            )
        return Outcome(
            "wait", self.env._("Waiting for %(name)s to end.", name=build.name), wait=wait
        )

    # --- New Odoo instance -----------------------------------------------------------

    @api.model
    def _odoo_context(self, step):
        """(instance, workspace, build) of a new-instance run."""
        run = step.run_id
        instance = run.instance_id.sudo()
        build = instance.build_id or self._build_of(step)
        return instance, run.workspace_id.sudo(), build

    @api.model
    def _manager_problem(self, step):
        """A new instance's configuration and database are a manager's (the New Odoo
        instance dialog): a run launched by anyone else does neither."""
        if step.run_id.user_id.has_group("erplibre_devops.group_devops_manager"):
            return None
        return failed(
            self.env._("Only a DevOps manager writes an instance's configuration or database.")
        )

    @action("odoo_config", "Odoo: write the instance's configuration file", ("instance",))
    def _action_odoo_config(self, step):
        problem = self._manager_problem(step)
        if problem:
            return problem
        instance, workspace, _build = self._odoo_context(step)
        if not workspace.odoo_path:
            return failed(
                self.env._(
                    "No Odoo source tree in %(path)s: clone and scan it.", path=workspace.path
                )
            )
        secrets = instance._secret_values()
        path = instance._odoo_config_path()
        database = instance.database
        options = {
            "addons_path": workspace.addons_path or None,
            "data_dir": f"{workspace.path.rstrip('/')}/{service.STATE_DIR}/odoo-data",
            "http_port": instance.port,
            "db_name": database,
            "dbfilter": f"^{re.escape(database)}$" if database else None,
            "list_db": False,
            "db_host": instance.db_host or None,
            "db_port": instance.db_port or None,
            "db_user": instance.db_user or None,
            "db_password": secrets.get("db_password") or None,
            "admin_passwd": secrets.get("admin_passwd") or None,
        }
        try:
            text = engine.odoo_config(options)
            instance.machine_id._executor().write_file(path, text.encode(), mode=0o600)
        except (engine.BuildInputError, ExecError) as error:
            return failed(str(error))
        instance.config_path = path
        return done(self.env._("Written to %(path)s (mode 600).", path=path))

    @action("odoo_init_db", "Odoo: create the database", ("instance",))
    def _action_odoo_init_db(self, step):
        problem = self._manager_problem(step)
        if problem:
            return problem
        instance, workspace, build = self._odoo_context(step)
        run = step.run_id
        if not build or build.state != "done":
            return failed(self.env._("The instance has no finished build."))
        if not instance.database:
            return failed(self.env._("The instance has no database name."))
        modules = run._param("modules") or []
        try:
            argv = engine.init_database_argv(
                build._python_of(),
                f"{workspace.odoo_path}/odoo-bin",
                instance._odoo_config_path(),
                instance.database,
                modules,
                bool(run._param("demo")),
                run._param("lang") or None,
            )
        except engine.BuildInputError as error:
            return failed(str(error))
        return self._queue(step, argv, env={})

    @api.model
    def _after_odoo_init_db(self, step, _exec_run):
        instance = step.run_id.instance_id
        modules = step.run_id._param("modules") or []
        return done(
            self.env._(
                "Database %(database)s created with %(modules)s.",
                database=instance.database,
                modules=", ".join(["base", *modules]),
            )
        )

    @action("start", "Start the instance", ("instance",))
    def _action_start(self, step):
        instance = step.run_id.instance_id
        outcome = self._queue(step, instance._start_argv(), instance_action="start")
        instance._set_state("starting", restart_given_up=False)
        return outcome
