"""Release and Deploy on real parts: the real Odoo tree and a module repository (bare
remotes made here), two workspaces cloned from them with an Odoo instance each (staging and
production, real servers on their own databases), a release bumped, tested, tagged and
pushed, deployed to staging, promoted to production; a broken release rolled back (code and
database); a dry run; Refresh staging (neutralised); a backup restored."""

import json
import logging
import os
import urllib.request
from contextlib import closing

import psycopg2

from odoo import sql_db
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from .common import RunnerCase
from .test_build import (
    CodeCase,
    NewInstanceMixin,
    drop_database,
    git,
    make_repo,
    write,
)

_logger = logging.getLogger(__name__)
MODULE = "devops_rel_demo"
MODELS_10 = """from odoo import fields, models


class DevopsRelDemo(models.Model):
    _name = "devops.rel.demo"
    _description = "Release demo"

    name = fields.Char()
"""
TESTS = """from odoo.tests import TransactionCase


class TestDemo(TransactionCase):
    def test_create(self):
        self.assertTrue(self.env["devops.rel.demo"].create({"name": "x"}).id)
"""
MIGRATE_11 = """def migrate(cr, version):
    cr.execute(
        "INSERT INTO ir_config_parameter (key, value, create_date, write_date) "
        "VALUES ('devops_rel_demo.migrated', '1.1', now(), now())"
    )
"""
MIGRATE_12_BROKEN = """def migrate(cr, version):
    cr.execute(
        "INSERT INTO ir_config_parameter (key, value, create_date, write_date) "
        "VALUES ('devops_rel_demo.broken', '1.2', now(), now())"
    )
    cr.commit()
    raise RuntimeError("devops_rel_demo 1.2: this migration fails on purpose")
"""


def manifest(version):
    return repr(
        {
            "name": "Release demo",
            "version": version,
            "license": "LGPL-3",
            "depends": ["base"],
            "data": ["security/ir.model.access.csv"],
        }
    )


ACCESS = (
    "id,name,model_id:id,group_id:id,perm_read,perm_write,perm_create,perm_unlink\n"
    "access_demo,demo,model_devops_rel_demo,base.group_user,1,1,1,1\n"
)


def query(database, sql, params=None):
    """Rows of ``sql`` on an instance's database (a connection of its own, closed after)."""
    _name, info = sql_db.connection_info_for(database)
    with closing(psycopg2.connect(**info)) as cnx, cnx.cursor() as cr:
        cr.execute(sql, params)
        return cr.fetchall()


def param(database, key):
    rows = query(database, "SELECT value FROM ir_config_parameter WHERE key = %s", [key])
    return rows[0][0] if rows else None


@tagged("post_install", "-at_install")
class TestReleaseDeploy(NewInstanceMixin, CodeCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.bare_odoo = cls.make_odoo_remote()
        cls.bare_shop, cls.work_shop = make_repo(
            cls.remotes,
            "shop",
            {
                f"{MODULE}/__manifest__.py": manifest("18.0.1.0.0"),
                f"{MODULE}/__init__.py": "from . import models\n",
                f"{MODULE}/models.py": MODELS_10,
                f"{MODULE}/security/ir.model.access.csv": ACCESS,
                f"{MODULE}/tests/__init__.py": "from . import test_demo\n",
                f"{MODULE}/tests/test_demo.py": TESTS,
            },
        )

    def odoo_instance(self, name, environment):
        """A workspace (the Odoo tree and the shop repository) and its running instance."""
        workspace = self.new_workspace(
            name,
            repos=[
                {"url": self.bare_odoo, "folder": "odoo"},
                {"url": self.bare_shop, "folder": "shop", "branch": "main"},
            ],
        )
        run = self.clone(workspace)
        self.assertEqual(run.state, "done", run.message)
        instance = self.adopted_instance(workspace, name, MODULE, "rel")
        instance.environment = environment
        return instance

    def pull(self, workspace):
        """A developer's workspace back on its branch, pulled."""
        shop = os.path.join(workspace.path, "shop")
        git(shop, "checkout", "--quiet", "main")
        git(shop, "pull", "--quiet", "--ff-only")

    def push_change(self, files, message):
        git(self.work_shop, "pull", "--quiet", "--ff-only", self.bare_shop, "main")
        for path, text in files.items():
            write(os.path.join(self.work_shop, path), text)
        git(self.work_shop, "add", "--all")
        git(self.work_shop, "commit", "--quiet", "-m", message)
        git(self.work_shop, "push", "--quiet", self.bare_shop, "main")

    def heads(self, workspace):
        return {
            folder: git(os.path.join(workspace.path, folder), "rev-parse", "HEAD")
            for folder in ("odoo", "shop")
        }

    def login_page(self, instance):
        with urllib.request.urlopen(f"{instance.url}/web/login", timeout=30) as answer:  # noqa: S310
            return answer.status

    def deploy(self, release, instance, **kwargs):
        deployment = self.env["devops.deployment"].browse(release.deploy(instance.id, **kwargs))
        self.run_all(timeout=900)
        return deployment

    def log_times(self, deployment):
        """What a deployment took, step by step (read in the test log; never asserted)."""
        _logger.info(
            "Deployment %s: %s, %.1f s: %s", deployment.name, deployment.state,
            deployment.duration,
            ", ".join(f"{s.name} {s.duration:.1f} s" for s in deployment.run_id.step_ids
                      if s.state in ("done", "failed")),
        )  # fmt: skip

    def steps(self, deployment):
        return [(s.name, s.state, s.message) for s in deployment.run_id.step_ids]

    def test_release_deploy_promote_and_roll_back(self):
        staging = self.odoo_instance("Rel staging", "staging")
        production = self.odoo_instance("Rel production", "production")
        ws = staging.workspace_id
        Release = self.env["devops.release"]

        # 1.0: the code as cloned; no test run at these commits: a manager's override.
        first = Release.create({"version": "1.0", "workspace_id": ws.id})
        line = first.module_ids.filtered(lambda m: m.name == MODULE)
        self.assertEqual(
            (line.version, line.changed, line.old_version), ("18.0.1.0.0", False, False)
        )
        first.action_candidate()
        with self.assertRaises(UserError):
            first.action_approve()  # no green run, no reason
        with self.assertRaises(AccessError):
            first.with_user(self.devops_user).action_approve("looks fine")
        first.with_user(self.devops_manager).action_approve("the first release")
        self.assertEqual(first.override_reason, "the first release")
        self.assertEqual(first.approved_by_id, self.devops_manager)

        # 1.1: a new field and a migration → minor; Bump versions commits the manifest.
        self.push_change(
            {
                f"{MODULE}/models.py": MODELS_10 + "    code = fields.Char()\n",
                f"{MODULE}/migrations/18.0.1.1.0/post-migrate.py": MIGRATE_11,
            },
            "feat(demo): a code on demos",
        )
        self.pull(ws)
        rel = Release.create({"version": "1.1", "workspace_id": ws.id})
        self.assertEqual(rel.previous_id, first)
        line = rel.module_ids.filtered(lambda m: m.name == MODULE)
        self.assertEqual((line.changed, line.bump, line.old_version), (True, "minor", "18.0.1.0.0"))
        self.assertIn("migration", line.reason)
        self.assertIn("a code on demos", rel.changelog)
        self.assertIn("Features", rel.changelog)
        rel.action_bump_versions()
        line = rel.module_ids.filtered(lambda m: m.name == MODULE)
        self.assertEqual(line.version, "18.0.1.1.0")
        shop = os.path.join(ws.path, "shop")
        self.assertEqual(rel._commits()["shop"], git(shop, "rev-parse", "HEAD"))
        self.assertIn("18.0.1.1.0", git(shop, "show", f"HEAD:{MODULE}/__manifest__.py"))
        self.assertIn("[REL] 1.1", git(shop, "log", "-1", "--format=%s"))
        self.assertFalse(rel.message)  # pushed: the team gets the new version
        self.assertEqual(git(shop, "rev-parse", "origin/main"), rel._commits()["shop"])

        # A green test run at exactly these commits lets it be approved.
        rel.action_candidate()
        self.assertFalse(rel.test_run_id)
        test = self.env["devops.test.run"].browse(ws.run_tests(modules=[MODULE], demo=False))
        self.addCleanup(drop_database, test.database)
        self.run_all(timeout=900)
        self.assertEqual(test.state, "passed", test.message)
        rel.invalidate_recordset()
        self.assertEqual(rel.test_run_id, test)
        rel.with_user(self.devops_user).action_approve()
        self.assertFalse(rel.override_reason)
        rel.with_user(self.devops_user).action_release()
        self.run_all(timeout=300)
        self.assertEqual(rel.state, "released", rel.message)
        tags = git(self.remotes, "ls-remote", "--tags", self.bare_shop)
        self.assertIn(f"{rel._commits()['shop']}\trefs/tags/1.1^{{}}", tags)

        # A dry run says what it would do and changes nothing.
        before = self.heads(staging.workspace_id)
        dry = self.deploy(rel, staging, dry_run=True)
        self.assertEqual(dry.state, "done", self.steps(dry))
        self.assertEqual(dry.modules, MODULE)
        self.assertTrue(
            all(s.state == "skipped" for s in dry.run_id.step_ids if s.action != "deploy_preflight"
                and not s.rollback), self.steps(dry),
        )  # fmt: skip
        self.assertEqual(self.heads(staging.workspace_id), before)
        self.assertFalse(staging.release_id)

        # Deployed to staging: only the bumped module is updated; its migration ran.
        dep = self.deploy(rel, staging)
        self.assertEqual(dep.state, "done", self.steps(dep))
        self.assertEqual(dep.modules, MODULE)
        self.assertEqual(staging.release_id, rel)
        self.assertEqual(param(staging.database, "devops_rel_demo.migrated"), "1.1")
        self.assertEqual(
            query(staging.database, "SELECT latest_version FROM ir_module_module WHERE name = %s",
                  [MODULE]), [("18.0.1.1.0",)],
        )  # fmt: skip
        self.assertTrue(dep.backup_id.verified, dep.backup_id.contents)
        self.assertFalse(dep.approved_by_id)  # staging: nobody approves
        self.assertEqual(staging.state, "running")
        self.assertEqual(self.login_page(staging), 200)

        # Promoted to production by a DevOps user: waits for a manager's approval.
        promoted_id = dep.with_user(self.devops_user).promote(production.id)
        promoted = self.env["devops.deployment"].browse(promoted_id)
        self.assertEqual(promoted.state, "to_approve")
        asked = self.env["devops.alert.delivery"].search(
            [("user_id", "=", self.devops_manager.id), ("channel", "=", "notification")]
        )
        self.assertEqual(json.loads(asked[:1].payload)["res_id"], promoted.id)  # managers told
        self.assertEqual(promoted.promoted_from_id, dep)
        with self.assertRaises(AccessError):
            promoted.with_user(self.devops_user).action_approve()
        promoted.with_user(self.devops_manager).action_approve()
        self.run_all(timeout=900)
        self.assertEqual(promoted.state, "done", self.steps(promoted))
        self.log_times(promoted)
        self.assertEqual(promoted.approved_by_id, self.devops_manager)
        self.assertEqual(production.release_id, rel)
        good_heads = self.heads(production.workspace_id)
        self.assertEqual(good_heads, rel._commits())

        # 1.2 is broken: its migration writes a row, commits, then fails.
        manifest_12 = manifest("18.0.1.2.0")
        self.push_change(
            {
                f"{MODULE}/__manifest__.py": manifest_12,
                f"{MODULE}/migrations/18.0.1.2.0/post-migrate.py": MIGRATE_12_BROKEN,
            },
            "fix: 1.2",
        )
        self.pull(ws)
        broken = Release.create({"version": "1.2", "workspace_id": ws.id})
        self.assertEqual(broken.module_ids.filtered(lambda m: m.name == MODULE).version,
                         "18.0.1.2.0")  # fmt: skip
        broken.action_candidate()
        broken.with_user(self.devops_manager).action_approve("trying a broken one")
        keys = ("database.uuid", "database.secret", "web.base.url")
        identity = [param(production.database, key) for key in keys]
        failed = self.deploy(broken, production)
        self.assertEqual(failed.state, "rolled_back", self.steps(failed))
        self.log_times(failed)
        self.assertIn("Update the modules", failed.rollback_reason)
        # Code and data as before: the migration's row is gone, the module at 1.1.
        self.assertEqual(self.heads(production.workspace_id), good_heads)
        self.assertIsNone(param(production.database, "devops_rel_demo.broken"))
        self.assertEqual(param(production.database, "devops_rel_demo.migrated"), "1.1")
        self.assertEqual(
            query(production.database,
                  "SELECT latest_version, state FROM ir_module_module WHERE name = %s", [MODULE]),
            [("18.0.1.1.0", "installed")],
        )  # fmt: skip
        self.assertEqual(production.release_id, rel)
        self.assertEqual(production.state, "running")
        self.assertEqual(self.login_page(production), 200)
        # The database itself: same uuid, secret (sessions stay valid) and base URL.
        self.assertEqual([param(production.database, key) for key in keys], identity)

        # Refresh staging: production's data, neutralised (crons, mail servers off).
        query_commit(production.database, "INSERT INTO ir_mail_server (name, smtp_host, smtp_port, "
                     "smtp_encryption, smtp_authentication, active) VALUES "
                     "('prod mail', 'smtp.example.com', 25, 'none', 'login', true)")  # fmt: skip
        staging.refresh_source_id = production
        with self.assertRaises(AccessError):
            staging.with_user(self.devops_user).refresh_staging()
        run = self.env["devops.pipeline.run"].browse(
            staging.with_user(self.devops_manager).refresh_staging()
        )
        self.run_all(timeout=900)
        self.assertEqual(run.state, "done", run.message)
        self.assertEqual(param(staging.database, "database.is_neutralized"), "true")
        self.assertEqual(
            query(staging.database, "SELECT active FROM ir_mail_server WHERE name = 'prod mail'"),
            [(False,)],
        )
        self.assertEqual(
            query(staging.database, "SELECT count(*) FROM ir_cron WHERE active AND id NOT IN "
                  "(SELECT res_id FROM ir_model_data WHERE model = 'ir.cron' "
                  "AND name = 'autovacuum_job')"), [(0,)],
        )  # fmt: skip
        self.assertEqual(staging.state, "running")

        # A backup restored into its instance: what was written after it is gone.
        backup = staging._backup("manual")
        self.run_all(timeout=300)
        self.assertTrue(backup.verified, backup.exec_id.output)
        query_commit(staging.database, "INSERT INTO ir_config_parameter (key, value) "
                     "VALUES ('devops.after_backup', '1')")  # fmt: skip
        with self.assertRaises(AccessError):
            backup.with_user(self.devops_user).action_restore()
        action = backup.with_user(self.devops_manager).action_restore()
        run = self.env["devops.pipeline.run"].browse(action["res_id"])
        self.run_all(timeout=900)
        self.assertEqual(run.state, "done", run.message)
        self.assertIsNone(param(staging.database, "devops.after_backup"))
        self.assertEqual(staging.state, "running")


def query_commit(database, sql):
    _name, info = sql_db.connection_info_for(database)
    with closing(psycopg2.connect(**info)) as cnx:
        with cnx.cursor() as cr:
            cr.execute(sql)
        cnx.commit()


@tagged("post_install", "-at_install")
class TestReleaseRules(CodeCase):
    """What is refused, without a server: hostile values, wrong states, others' rights."""

    def test_refused(self):
        workspace = self.new_workspace("Rules", repos=[{"url": self.bare_a, "folder": "p"}])
        run = self.clone(workspace)
        self.assertEqual(run.state, "done", run.message)
        Release = self.env["devops.release"].with_user(self.devops_user)
        for bad in ("", "../x", "a b", "1.0.lock", "-x", "x" * 65, None):
            with self.assertRaises(UserError, msg=bad):
                Release.create({"version": bad, "workspace_id": workspace.id})
        rel = Release.create({"version": "0.1", "workspace_id": workspace.id})
        self.assertTrue(rel.commit_key)
        with self.assertRaises(UserError):
            rel.action_release()  # not approved
        with self.assertRaises(AccessError):
            rel.module_ids[:1].write({"version": "99.0"})
        for forged in ({"state": "approved"}, {"commits": "{}"}, {"commit_key": "x"},
                       {"approved_by_id": self.devops_manager.id}):  # fmt: skip
            with self.assertRaises(AccessError, msg=forged):
                rel.write(forged)
        forged = Release.create({"version": "0.0", "workspace_id": workspace.id,
                                 "state": "released", "commit_key": "forged"})  # fmt: skip
        self.assertEqual((forged.state, forged.commit_key), ("draft", rel.commit_key))
        with self.assertRaises(UserError):
            rel.action_bump_versions()  # nothing changed
        instance = self.env["devops.instance"].create(
            {"name": "Rules prod", "workspace_id": workspace.id, "port": 8997,
             "database": "rules", "environment": "production"}
        )  # fmt: skip
        with self.assertRaises(UserError):
            rel.deploy(instance.id)  # a draft goes nowhere
        rel.action_candidate()
        with self.assertRaises(UserError):
            rel.deploy(instance.id)  # production takes approved releases only
        for bad in ("x", -1, True, [instance.id], 10**9):
            with self.assertRaises(UserError, msg=bad):
                rel.deploy(bad)
        staging = instance.copy({"name": "Rules staging", "environment": "staging"})
        with self.assertRaises(UserError):
            rel.deploy(staging.id)  # no Odoo configuration file made by the app
        Deployment = self.env["devops.deployment"].with_user(self.devops_user)
        with self.assertRaises(UserError):  # refused at once, no draft left behind
            Deployment.create({"release_id": rel.id, "instance_id": staging.id})
        staging.config_path = os.path.join(self.tmp, "staging.conf")
        dep = Deployment.create(
            {"release_id": rel.id, "instance_id": staging.id, "state": "done", "modules": "x"}
        )
        self.assertEqual((dep.state, dep.modules), ("draft", False))
        with self.assertRaises(AccessError):
            dep.write({"state": "done"})
        self.assertEqual(workspace.sudo()._deploy_folders(), ["p"])
        # The app-only pipelines are not started directly; a run naming a record it was not
        # started for moves nothing.
        deploy = self.env.ref("erplibre_devops.pipeline_deploy").with_user(self.devops_user)
        with self.assertRaises(UserError):
            deploy.launch(staging.id, {"deployment_id": dep.id})
        forged = self.env.ref("erplibre_devops.pipeline_deploy")._launch_for(
            staging, {"deployment_id": dep.id}
        )
        self.run_all()
        run = self.env["devops.pipeline.run"].browse(forged)
        self.assertEqual(run.state, "failed")
        self.assertIn("No deployment", run.message)
        self.assertEqual((dep.state, staging.release_id.id), ("draft", False))
        for bad in ("HEAD", "1.", "deadbeef12"):
            with self.assertRaises(UserError, msg=bad):
                Release.create({"version": bad, "workspace_id": workspace.id})
        self.assertTrue(Release.create({"version": "20261130", "workspace_id": workspace.id}))
        # A manager sees "Deploy to production" on a new deployment (not "Ask for approval").
        form_values = (
            self.env["devops.deployment"]
            .with_user(self.devops_manager)
            .onchange({"release_id": rel.id, "instance_id": instance.id}, [], {"can_approve": {}})
        )
        self.assertTrue(form_values["value"].get("can_approve"), form_values)


@tagged("post_install", "-at_install")
class TestBackupRotation(RunnerCase):
    def test_rotation_keeps_daily_weekly_monthly(self):
        folder = self.make_tempdir()
        workspace = self.make_workspace("Rotation", path=folder)
        instance = self.env["devops.instance"].create(
            {"name": "Rotation", "workspace_id": workspace.id, "port": 8996, "database": "rot",
             "backup_schedule": "daily", "backup_keep_daily": 3, "backup_keep_weekly": 2,
             "backup_keep_monthly": 2}
        )  # fmt: skip
        # A-D in the ISO week of Monday 2026-03-16, E-F the week before, G the one before,
        # H in February, I in January; X failed before the newest good one.
        dates = {"A": "2026-03-20", "B": "2026-03-19", "C": "2026-03-18", "D": "2026-03-17",
                 "E": "2026-03-12", "F": "2026-03-10", "G": "2026-03-02", "H": "2026-02-20",
                 "I": "2026-01-15", "X": "2026-03-19"}  # fmt: skip
        Backup = self.env["devops.instance.backup"]
        backups = {}
        for name in dates:
            path = os.path.join(folder, f"{name}.dump")
            with open(path, "w", encoding="ascii") as handle:
                handle.write(name)
            run_id = instance._queue("backup", ["false"] if name == "X" else ["true"])
            backups[name] = Backup.create(
                {"instance_id": instance.id, "exec_id": run_id, "path": path, "kind": "scheduled"}
            )
        manual = Backup.create(
            {"instance_id": instance.id, "exec_id": backups["I"].exec_id.id, "kind": "manual",
             "path": os.path.join(folder, "I.dump")}
        )  # fmt: skip
        self.run_all()
        self.env.flush_all()
        for name, backup in backups.items():  # finished runs are the audit trail: by SQL
            self.env.cr.execute(
                "UPDATE devops_exec SET date_end = %s WHERE id = %s",
                [f"{dates[name]} 02:00:00", backup.exec_id.id],
            )
            self.env.cr.execute(
                "UPDATE devops_instance_backup SET date = %s WHERE id = %s",
                [f"{dates[name]} 02:00:00", backup.id],
            )
        self.env.invalidate_all()
        instance._rotate_backups()
        self.run_all()
        removed = {name for name, backup in backups.items() if backup.removed}
        states = {n: (b.state, str(b.date), b.kind) for n, b in backups.items()}
        self.assertEqual(removed, {"D", "F", "G", "I", "X"}, states)
        left = sorted(f[0] for f in os.listdir(folder) if f.endswith(".dump"))
        self.assertEqual(left, ["A", "B", "C", "E", "H"])
        self.assertFalse(manual.removed)  # backups made by hand are never rotated
        # The cron: a daily backup is due (the last one is months old).
        count = Backup.search_count([("instance_id", "=", instance.id)])
        self.env["devops.instance"]._cron_backup()
        self.assertEqual(Backup.search_count([("instance_id", "=", instance.id)]), count + 1)
