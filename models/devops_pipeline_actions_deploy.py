"""Built-in actions of Release and Deploy.

- pipeline "Release" (``release_tag``): tag every repository at the release's commits, push;
- pipeline "Deploy" on a ``devops.deployment`` (its id: the run's ``deployment_id``):
  ``deploy_preflight`` → ``deploy_backup`` → ``deploy_checkout`` → ``deploy_pip`` →
  ``deploy_update`` → ``restart`` → ``wait_healthy`` → ``deploy_smoke``; rolled back by
  ``stop`` → ``rollback_code`` → ``deploy_restore`` → ``start`` → ``wait_healthy``.  A
  dry run (parameter ``dry_run``) runs the preflight and skips every other step, saying what
  it would do;
- pipelines "Refresh staging" (``refresh_copy``) and "Restore" (``backup_restore``).
"""

import posixpath

from odoo import api, models

from ..engine import build as build_engine
from ..engine import deploy, git, probe, remote
from ..engine.executor import ExecError
from .devops_pipeline_actions import action, done, failed, skipped


class DevopsPipelineActions(models.AbstractModel):
    _inherit = "devops.pipeline.actions"

    @api.model
    def _start(self, step):
        message = self._dry_run_message(step) if step.run_id._param("dry_run") is True else None
        return skipped(message) if message else super()._start(step)

    @api.model
    def _dry_run_message(self, step):
        if step.action == "deploy_update":
            modules = step.run_id._data().get("modules") or []
            return self.env._(
                "Dry run: would update %(modules)s.",
                modules=", ".join(modules) or self.env._("none"),
            )
        return {
            "deploy_backup": self.env._("Dry run: would back up the database and its filestore."),
            "deploy_checkout": self.env._("Dry run: would check out the release's commits."),
            "deploy_pip": self.env._("Dry run: would install the release's pip lock."),
            "restart": self.env._("Dry run: would restart the instance."),
            "wait_healthy": self.env._("Dry run: would wait until it is healthy."),
            "deploy_smoke": self.env._("Dry run: would check /web/login and the modules' states."),
        }.get(step.action)  # None: the step runs (the preflight)

    @api.model
    def _deployment_of(self, step):
        run = step.run_id
        dep = run._param_record("deployment_id", "devops.deployment")
        if dep.run_id != run or dep.state != "running" or dep.instance_id != run.instance_id:
            return self.env["devops.deployment"]  # only the run its deployment started
        return dep

    # --- Release ---------------------------------------------------------------------------

    @action("release_tag", "Release: tag every repository and push the tags", ("workspace",))
    def _action_release_tag(self, step):
        run = step.run_id
        rel = run._param_record("release_id", "devops.release")
        if not rel or rel.state != "approved" or rel.run_id != run:
            return failed(self.env._("No approved release to tag."))
        workspace = run.workspace_id.sudo()
        commits = rel._commits()
        try:
            executor = workspace.machine_id._executor()
            env, pairs, problem, secrets = self._git_access(workspace, executor)
            if problem:
                return failed(problem)
            tokens = dict(pairs)
            items = [(f, tokens.get(f, ""), sha) for f, sha in commits.items()]
            message = f"{rel.version}\n\n{rel.changelog or ''}"[:20000]
            argv = remote.with_secret_files(deploy.tag_push_argv(rel.version, message, items),
                                            secrets)  # fmt: skip
        except (ExecError, deploy.DeployInputError, git.GitInputError) as error:
            return failed(str(error))
        return self._queue(step, argv, env=env)

    @api.model
    def _after_release_tag(self, step, _exec_run):
        rel = step.run_id._param_record("release_id", "devops.release")
        return done(
            self.env._("%(count)s repositories tagged %(tag)s.",
                       count=len(rel._commits()), tag=rel.version)
        )  # fmt: skip

    @api.model
    def _git_access(self, workspace, executor):
        """(env, [(folder, token file)], problem, secret files) for the workspace's remotes."""
        if workspace.repo_ids:
            return workspace._prepare_git_all(executor)
        return dict(git.GIT_ENV), [(".", "")], None, []

    # --- Deploy ------------------------------------------------------------------------------

    @api.model
    def _no_deployment(self):
        return failed(self.env._("No deployment: deploy a release (Deploy on a release)."))

    @action("deploy_preflight", "Deploy: preflight (disk, database, clean code)", ("instance",))
    def _action_deploy_preflight(self, step):
        dep = self._deployment_of(step)
        if not dep:
            return self._no_deployment()
        instance = dep.instance_id.sudo()
        python, _odoo_bin, config = instance._odoo_cli()
        folders = instance.workspace_id._deploy_folders()
        argv = deploy.preflight_argv(python, config, instance.database, folders)
        return self._queue(step, argv, env={})

    @api.model
    def _after_deploy_preflight(self, step, exec_run):
        dep = self._deployment_of(step)
        found = deploy.parse_preflight(exec_run.output or "")
        try:
            minimum = int(self.env["devops.instance"]._param("deploy_min_free_mb", 500))
        except ValueError:
            minimum = 500
        problems = []
        free = found["free_mb"]
        if free is None or free < minimum:
            problems.append(
                self.env._(
                    "Not enough free disk space: %(free)s MB, %(min)s MB needed (system parameter "
                    "erplibre_devops.deploy_min_free_mb).",
                    free=int(free or 0),
                    min=minimum,
                )
            )
        if found["dirty"]:
            problems.append(
                self.env._(
                    "Uncommitted changes in %(folders)s: commit or stash them first.",
                    folders=", ".join(found["dirty"]),
                )
            )
        db = found["db"] or {}
        if not db.get("ok"):
            problems.append(
                self.env._("The database %(db)s cannot be reached: %(error)s",
                           db=dep.instance_id.database, error=db.get("error") or "?")
            )  # fmt: skip
        elif db.get("pending"):
            problems.append(
                self.env._(
                    "Modules left half installed or updated: %(names)s. Finish or fix them first.",
                    names=", ".join(db["pending"]),
                )
            )
        if problems:
            return failed("\n".join(problems))
        rel = dep.release_id
        changed = (
            rel.module_ids.filtered("changed").mapped("name") if dep.update == "changed" else None
        )
        modules = deploy.modules_to_update(db["modules"], rel._module_versions(), changed)
        step.run_id._set_data(modules=modules)
        dep.sudo().modules = ", ".join(modules) or False
        return done(
            self.env._(
                "%(free)s MB free; database reachable, %(count)s modules installed; to update: "
                "%(modules)s.",
                free=int(free),
                count=len(db["modules"]),
                modules=", ".join(modules) or self.env._("none"),
            )
        )

    @action("deploy_backup", "Deploy: back up the database and its filestore", ("instance",))
    def _action_deploy_backup(self, step):
        dep = self._deployment_of(step)
        if not dep:
            return self._no_deployment()
        instance = dep.instance_id.sudo()
        path, argv = instance._backup_argv("deploy")
        outcome = self._queue(step, argv, instance_action="backup", env={})
        backup = instance._backup_record(path, "deploy", outcome.exec_id)
        dep.sudo().backup_id = backup
        step.run_id._set_data(backup_id=backup.id)
        return outcome

    @api.model
    def _after_deploy_backup(self, _step, exec_run):
        backup = (
            self.env["devops.instance.backup"]
            .sudo()
            .search([("exec_id", "=", exec_run.id)], limit=1)
        )
        found = backup._check_result()
        if not found.get("ok"):
            return failed(
                self.env._("The backup cannot be read back: %(error)s",
                           error=found.get("error") or self.env._("no check"))
            )  # fmt: skip
        return done(
            self.env._("%(path)s (%(size).1f MB): %(contents)s.",
                       path=backup.path, size=backup.size_mb, contents=backup.contents)
        )  # fmt: skip

    @action("deploy_checkout", "Deploy: check out the release's commits", ("instance",))
    def _action_deploy_checkout(self, step):
        dep = self._deployment_of(step)
        if not dep:
            return self._no_deployment()
        run = step.run_id
        workspace = run.workspace_id.sudo()
        folders = workspace._deploy_folders()
        commits = dep.release_id._commits()
        try:
            executor = workspace.machine_id._executor()
            ok, out = executor.read_stdout(git.heads_argv(folders), cwd=workspace.path)
            env, pairs, problem, secrets = self._git_access(workspace, executor)
            if problem:
                return failed(problem)
            tokens = dict(pairs)
            items = [(f, tokens.get(f, ""), commits[f]) for f in folders if f in commits]
            argv = remote.with_secret_files(deploy.release_checkout_argv(items), secrets)
        except (ExecError, deploy.DeployInputError) as error:
            return failed(str(error))
        heads = git.parse_heads(out) if ok else {}
        if not heads:
            return failed(self.env._("No repository of %(path)s is cloned.", path=workspace.path))
        run._set_data(old_heads=heads)
        return self._queue(step, argv, env=env)

    @api.model
    def _after_deploy_checkout(self, step, _exec_run):
        outcome = self._after_multi_checkout(step)
        dep = self._deployment_of(step)
        new = step.run_id._data().get("new_heads") or {}
        wrong = [
            f for f, sha in dep.release_id._commits().items() if (new.get(f) or [""])[0] != sha
        ]
        if wrong:
            return failed(self.env._("Not at the release's commits: %(f)s.", f=", ".join(wrong)))
        return outcome

    @action("deploy_pip", "Deploy: install the release's pip lock", ("instance",))
    def _action_deploy_pip(self, step):
        dep = self._deployment_of(step)
        if not dep:
            return self._no_deployment()
        build, wanted = dep.instance_id.sudo().build_id, dep.release_id.sudo().build_id
        if not build or build.adopted:
            return skipped(self.env._("The instance's virtualenv is adopted: left as it is."))
        if not wanted.lock or wanted.fingerprint == build.fingerprint:
            return skipped(self.env._("The instance's build already has the release's packages."))
        workspace = step.run_id.workspace_id.sudo()
        path = f"{workspace.path.rstrip('/')}/.devops/release-{dep.release_id.id}.lock"
        try:
            workspace.machine_id._executor().write_file(path, (wanted.lock + "\n").encode(), 0o644)
        except ExecError as error:
            return failed(str(error))
        argv = build_engine.pip_install_argv(build.venv_path, [path], [], build._pip_options())
        return self._queue(step, argv, env={"PIP_NO_INPUT": "1"})

    @action("deploy_update", "Deploy: update the modules (-u)", ("instance",))
    def _action_deploy_update(self, step):
        dep = self._deployment_of(step)
        if not dep:
            return self._no_deployment()
        modules = step.run_id._data().get("modules") or []
        if not modules:
            return skipped(self.env._("No module to update."))
        instance = dep.instance_id.sudo()
        python, odoo_bin, config = instance._odoo_cli()
        argv = [python, odoo_bin, "-c", config, "-d", instance.database,
                "-u", ",".join(modules), "--stop-after-init", "--no-http"]  # fmt: skip
        return self._queue(step, argv, env={})

    @api.model
    def _after_deploy_update(self, step, _exec_run):
        modules = step.run_id._data().get("modules") or []
        return done(self.env._("Updated: %(modules)s.", modules=", ".join(modules)))

    @action("deploy_smoke", "Deploy: smoke check (/web/login, modules' states)", ("instance",))
    def _action_deploy_smoke(self, step):
        dep = self._deployment_of(step)
        if not dep:
            return self._no_deployment()
        instance = dep.instance_id.sudo()
        url = f"{(instance.url or '').rstrip('/')}/web/login"
        machine = instance.machine_id
        host = "localhost" if machine.kind == "local" else machine.host
        result = probe.probe(host, instance.port, url, timeout=30)
        if not result.healthy:
            return failed(self.env._("%(url)s: %(error)s", url=url,
                                     error=result.error or result.http_status))  # fmt: skip
        python, _odoo_bin, config = instance._odoo_cli()
        return self._queue(step, deploy.db_state_argv(python, config, instance.database), env={})

    @api.model
    def _after_deploy_smoke(self, _step, exec_run):
        db = deploy.parse_preflight(exec_run.output or "")["db"] or {}
        if not db.get("ok"):
            return failed(self.env._("The database cannot be read: %(e)s", e=db.get("error")))
        if db.get("pending"):
            return failed(
                self.env._("Modules left to install or update: %(names)s.",
                           names=", ".join(db["pending"]))
            )  # fmt: skip
        return done(self.env._("/web/login answers; no module left half installed."))

    @action("deploy_restore", "Deploy: restore the backup taken before", ("instance",))
    def _action_deploy_restore(self, step):
        backup_id = step.run_id._data().get("backup_id")
        backup = self.env["devops.instance.backup"].sudo().browse(backup_id or 0).exists()
        if not backup or backup.instance_id != step.run_id.instance_id:
            return skipped(self.env._("No backup was taken: the database was not changed."))
        return self._restore(step, backup)

    @api.model
    def _restore(self, step, backup):
        if backup.state != "done" or not backup.with_filestore:
            return failed(self.env._("The backup %(path)s is not usable.", path=backup.path))
        instance = step.run_id.instance_id.sudo()
        python, odoo_bin, config = instance._odoo_cli()
        argv = deploy.restore_argv(
            python, posixpath.dirname(odoo_bin), config, instance.database, backup.path
        )
        return self._queue(step, argv, env={})

    @api.model
    def _after_deploy_restore(self, _step, _exec_run):
        return done(self.env._("The database and its filestore are back as before."))

    # --- Stop, restore a backup, refresh staging -----------------------------------------

    @action("stop", "Stop the instance", ("instance",))
    def _action_stop(self, step):
        instance = step.run_id.instance_id
        outcome = self._queue(step, instance._stop_argv(), instance_action="stop")
        instance._set_state("stopped")
        return outcome

    @action("backup_restore", "Restore the backup given (parameter backup_id)", ("instance",))
    def _action_backup_restore(self, step):
        backup_id = step.run_id._param("backup_id")
        backup = (
            self.env["devops.instance.backup"]
            .sudo()
            .browse(
                backup_id if isinstance(backup_id, int) and not isinstance(backup_id, bool) else 0
            )
            .exists()
        )
        if not backup or backup.instance_id != step.run_id.instance_id:
            return failed(self.env._("No backup of this instance to restore."))
        if not step.run_id.user_id.has_group("erplibre_devops.group_devops_manager"):
            return failed(self.env._("Only a DevOps manager restores a backup."))
        return self._restore(step, backup)

    @api.model
    def _after_backup_restore(self, step, _exec_run):
        return self._after_deploy_restore(step, _exec_run)

    @action("refresh_copy", "Staging: copy production's database, neutralised", ("instance",))
    def _action_refresh_copy(self, step):
        run = step.run_id
        target = run.instance_id.sudo()
        source_id = run._param("source_instance_id")
        source = (
            self.env["devops.instance"]
            .sudo()
            .browse(
                source_id if isinstance(source_id, int) and not isinstance(source_id, bool) else 0
            )
            .exists()
        )
        if not run.user_id.has_group("erplibre_devops.group_devops_manager"):
            return failed(self.env._("Only a DevOps manager refreshes a staging instance."))
        if (
            not source
            or source.environment != "production"
            or target.environment != "staging"
            or source.machine_id != target.machine_id
        ):
            return failed(self.env._("Refresh staging copies a production instance of the same "
                                     "machine into a staging instance."))  # fmt: skip
        python, odoo_bin, source_config = source._odoo_cli()
        _python, _bin, target_config = target._odoo_cli()
        tmp = f"{target.workspace_id.path.rstrip('/')}/.devops/refresh-{run.id}.zip"
        argv = deploy.copy_argv(python, odoo_bin, source_config, source.database,
                                target_config, target.database, tmp)  # fmt: skip
        return self._queue(step, argv, env={})

    @api.model
    def _after_refresh_copy(self, _step, _exec_run):
        return done(self.env._("Copied and neutralised: crons, outgoing mail servers and payment "
                               "providers are off."))  # fmt: skip
