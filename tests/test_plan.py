"""Plan on real parts: a change walks Plan → Monitor on real repositories (the real Odoo
tree and a module repository, bare remotes made here) as its branch gets commits, a build,
test runs (a scaffolded module installed and its test run), a release and deployments to a
real Odoo server happen; the delivery metrics on a fixed history of records; the rules."""

import datetime
import json
import os
import sys

from odoo import fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import new_test_user, tagged

from ..engine import plan as plan_engine
from ..models.devops_change import REASONS
from .common import DevopsCase
from .test_build import (
    CodeCase,
    NewInstanceMixin,
    drop_database,
    git,
    make_repo,
    manifest,
    write,
)

BRANCH = "feature/books"
MODULE = "plan_books"
MONITOR = "erplibre_devops.plan_monitor_hours"


def at(day, hour=0):
    return datetime.datetime(2026, 10, day, hour)


@tagged("post_install", "-at_install")
class TestPlanWalk(NewInstanceMixin, CodeCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.bare_odoo = cls.make_odoo_remote()
        cls.bare_lib, cls.work_lib = make_repo(
            cls.remotes,
            "lib",
            {"lib_base/__manifest__.py": manifest(["base"]), "lib_base/__init__.py": ""},
        )

    def stage(self, change):
        return change.stage_id.code

    def run_tests(self, workspace, **kwargs):
        test = self.env["devops.test.run"].browse(workspace.run_tests(**kwargs))
        self.addCleanup(drop_database, test.database)
        self.run_all(timeout=900)
        return test

    def test_a_change_walks_plan_to_monitor(self):
        self.env["ir.config_parameter"].sudo().set_param(MONITOR, "24")
        workspace = self.new_workspace(
            "Plan",
            repos=[
                {"url": self.bare_odoo, "folder": "odoo"},
                {"url": self.bare_lib, "folder": "lib", "branch": "main"},
            ],
        )
        self.assertEqual(self.clone(workspace).state, "done")
        lib = os.path.join(workspace.path, "lib")
        change = self.env["devops.change"].create(
            {"name": "Library books", "workspace_ids": [workspace.id], "branch": BRANCH}
        )
        self.assertEqual((self.stage(change), change.blocked), ("plan", False))

        # Start: the branch in every repository, from its base branch; still no commit.
        change.action_start()
        for folder in ("odoo", "lib"):
            path = os.path.join(workspace.path, folder)
            self.assertEqual(git(path, "rev-parse", "--abbrev-ref", "HEAD"), BRANCH)
        self.assertTrue(change.started)
        bases = json.loads(change.base_commits)[str(workspace.id)]
        self.assertEqual(bases["lib"], git(lib, "rev-parse", "origin/main"))
        self.assertEqual(self.stage(change), "plan")
        with self.assertRaises(UserError):
            change.write({"branch": "feature/other"})

        # Scaffold a module: written and committed on the branch → Code, its module listed.
        commit = change.action_scaffold_module(MODULE, "lib", title="Library books")
        self.assertTrue(commit.endswith(f"[ADD] {MODULE}: Library books"), commit)
        self.assertEqual(git(lib, "status", "--porcelain"), "")
        self.assertEqual(git(lib, "log", "-1", "--format=%H"), commit.split(" ")[0])
        self.assertTrue(os.path.isfile(os.path.join(lib, MODULE, "tests", "__init__.py")))
        self.assertEqual(self.stage(change), "code")
        self.assertEqual((change.modules, change.commit_count), (MODULE, 1))
        self.assertTrue(change.first_commit_date)
        with self.assertRaises(UserError):  # the folder exists now
            change.action_scaffold_module(MODULE, "lib")

        # A build of the head → Build (by itself: the build's end refreshes the change).
        build = self.env["devops.build"].browse(workspace.build(adopt_path=sys.prefix))
        self.run_all(timeout=300)
        self.assertEqual(build.state, "done", build.message)
        self.assertEqual((self.stage(change), change.build_state), ("build", "done"))

        # The scaffolded module's test, run by the Test stage → green → Test.
        test = self.run_tests(workspace, modules=[MODULE])
        self.assertEqual(test.state, "passed", test.message)
        self.assertIn("test_create_and_archive", test.result_ids.mapped("method"), test.result_ids)
        self.assertEqual((self.stage(change), change.test_state), ("test", "passed"))
        self.assertEqual(change.test_run_id, test)

        # A breaking commit: new commits since green → Code; red tests → back, blocked, why.
        test_file = os.path.join(lib, MODULE, "tests", f"test_{MODULE}_record.py")
        with open(test_file, encoding="utf-8") as handle:
            good = handle.read()
        write(test_file, good.replace("self.assertTrue(record.active)", "self.assertFalse(1)"))
        git(lib, "commit", "--quiet", "-am", "break the test")
        self.env["devops.change"]._cron_refresh()
        self.assertEqual(self.stage(change), "code")
        self.assertIn(test.name, change.stage_reason)
        red = self.run_tests(workspace, modules=[MODULE])
        self.assertEqual(red.state, "failed")
        self.assertEqual((self.stage(change), change.blocked), ("build", True))
        self.assertEqual(
            change.stage_reason,
            f"Regression: tests failed at its head ({red.name}) after passing ({test.name}).",
        )
        git(lib, "revert", "--no-edit", "HEAD")
        green = self.run_tests(workspace, modules=[MODULE])
        self.assertEqual(
            (green.state, self.stage(change), change.blocked), ("passed", "test", False)
        )

        # Request release → the release of these commits → Release; approved on the green run.
        action = change.action_request_release()
        self.assertEqual(action["context"]["default_workspace_id"], workspace.id)
        release = self.env["devops.release"].create(
            {"version": "1.0", "workspace_id": workspace.id}
        )
        self.assertEqual((self.stage(change), change.release_ids), ("release", release))
        release.action_candidate()
        release.action_approve()
        self.assertEqual((release.state, release.test_run_id), ("approved", green))

        # A real Odoo server of the workspace, deployed as staging → Deploy.
        instance = self.adopted_instance(workspace, "Plan box", MODULE, "plan")
        instance.environment = "staging"
        staging = self.env["devops.deployment"].browse(release.deploy(instance.id))
        self.run_all(timeout=900)
        self.assertEqual(staging.state, "done", staging.message)
        self.assertEqual(self.stage(change), "deploy")

        # The same server made production, deployed → Operate; the lead time is known.
        instance.environment = "production"
        production = self.env["devops.deployment"].browse(release.deploy(instance.id))
        self.run_all(timeout=900)
        self.assertEqual(production.state, "done", production.message)
        self.assertEqual((self.stage(change), change.instance_ids), ("operate", instance))
        self.assertEqual(change.production_date, production.date_end)
        lead = (production.date_end - change.first_commit_date).total_seconds() / 3600
        self.assertAlmostEqual(change.lead_time_hours, lead, places=6)
        self.assertIn("Monitor after 24 h without incident", change.stage_reason)

        # In production long enough without incident → Monitor; an incident sends it back.
        self.env["ir.config_parameter"].sudo().set_param(MONITOR, "0")
        self.env["devops.change"]._cron_refresh()
        self.assertEqual(self.stage(change), "monitor")
        incident = self.env["devops.incident"].create(
            {"instance_id": instance.id, "cause": "Down: connection refused"}
        )
        self.assertEqual((self.stage(change), change.blocked), ("operate", True))
        self.assertIn("open on Plan box", change.stage_reason)
        incident._close("Back up.")
        self.assertEqual((self.stage(change), change.blocked), ("monitor", False))

        # The metrics: the production deployment (not staging), this change's lead time, the
        # incident right after the deployment (a failed change) and its duration.
        # (3 h back, so that the incident, 90 minutes long, has ended before now.)
        deployed = production.date_end - datetime.timedelta(hours=3)
        self.env.cr.execute(
            "UPDATE devops_deployment SET date_end = %s WHERE id = %s", (deployed, production.id)
        )
        production.invalidate_recordset()
        start = deployed + datetime.timedelta(minutes=30)
        self.env.cr.execute(
            "UPDATE devops_incident SET date_start = %s, date_end = %s WHERE id = %s",
            (start, start + datetime.timedelta(minutes=90), incident.id),
        )
        incident.invalidate_recordset()
        today = fields.Date.today()
        figures = workspace.dora_metrics(str(today - datetime.timedelta(days=6)), str(today))
        self.assertEqual(figures["deployment_frequency_ids"], [production.id])
        self.assertAlmostEqual(figures["deployment_frequency"], 1 / 7)
        self.assertEqual(figures["lead_time_hours_ids"], [change.id])
        self.assertAlmostEqual(figures["lead_time_hours"], lead, places=6)
        self.assertEqual(figures["change_failure_rate"], 100.0)
        self.assertEqual(figures["change_failure_rate_ids"], [production.id])
        self.assertEqual(figures["time_to_restore_hours"], 1.5)
        self.assertEqual(figures["time_to_restore_hours_ids"], [incident.id])
        self.assertEqual(figures["lead_time_hours_level"], "elite")

        # The dashboard shows the change's lead time and opens it.
        board = self.env["devops.dora.dashboard"].create({"workspace_id": workspace.id})
        shown = f"{round(lead * 60)} minutes" if lead < 1 else f"{lead:.1f} hours"
        self.assertEqual(board.lead_time_hours, shown)
        self.assertEqual(board.lead_time_hours_count, 1)
        self.assertEqual(board.action_open_lead_time()["domain"], [("id", "in", [change.id])])
        self.assertEqual(board.time_to_restore_hours, "1.5 hours")
        self.assertIn("Week of", board.history_html)


@tagged("post_install", "-at_install")
class TestDoraHistory(DevopsCase):
    """The four figures from a fixed history of records (as engine/tests/test_dora.py by
    hand): two workspaces, staging and dry runs left out, an incident elsewhere not counted."""

    def test_metrics_on_a_fixed_history(self):
        tmp = self.make_tempdir()
        spaces = []
        for name in ("shop", "other"):
            path = os.path.join(tmp, name)
            os.makedirs(path)
            git(path, "init", "--quiet", "--initial-branch", "main")
            write(os.path.join(path, "README"), name)
            git(path, "add", "--all")
            git(path, "commit", "--quiet", "-m", "first")
            spaces.append(self.make_workspace(name, path=path))
        shop, other = spaces
        Release = self.env["devops.release"]
        rel = Release.create({"version": "1.0", "workspace_id": shop.id})
        rel_other = Release.create({"version": "1.0", "workspace_id": other.id})
        (rel | rel_other).sudo().write({"state": "approved"})

        def instance(name, workspace, environment):
            return self.env["devops.instance"].create(
                {"name": name, "workspace_id": workspace.id, "environment": environment,
                 "config_path": f"/tmp/{name}.conf"}
            )  # fmt: skip

        def deployment(release, inst, day, hour, state="done", dry_run=False):
            dep = self.env["devops.deployment"].create(
                {"release_id": release.id, "instance_id": inst.id, "dry_run": dry_run}
            )
            dep.write({"state": state, "date_end": at(day, hour)})
            return dep

        stag = instance("stag", shop, "staging")
        on_staging = deployment(rel, stag, 4, 10)  # staging: left out of the metrics
        with self.assertRaisesRegex(UserError, "No instance is in production yet"):
            on_staging.action_promote()  # said before an empty choice of instances
        prod = instance("prod", shop, "production")
        prod_b = instance("prod-b", shop, "production")
        prod_other = instance("prod-o", other, "production")
        self.assertEqual(on_staging.action_promote()["res_model"], "devops.deployment")

        d1 = deployment(rel, prod, 2, 10)
        d2 = deployment(rel, prod, 3, 10)  # incident 5 h later on prod: a failure
        d3 = deployment(rel, prod, 5, 10, "rolled_back")
        d4 = deployment(rel, prod, 8, 10)  # incident on prod-b 2 h later: not its failure
        deployment(rel, prod, 6, 10, dry_run=True)  # a dry run: left out
        deployment(rel, prod, 20, 10)  # after the period
        deployment(rel_other, prod_other, 4, 10)  # the other workspace's

        def incident(inst, start, end):
            found = self.env["devops.incident"].create({"instance_id": inst.id, "cause": "Down"})
            found.write({"date_start": start, "date_end": end})
            return found

        i1 = incident(prod, at(3, 15), at(3, 17))  # 2 h
        i2 = incident(prod_b, at(8, 12), at(8, 18))  # 6 h
        incident(prod_other, at(4, 11), at(4, 12))  # the other workspace's

        Change = self.env["devops.change"]

        def change(name, first, deployed, workspace=shop):
            found = Change.create({"name": name, "workspace_ids": [workspace.id]})
            found.write({"first_commit_date": first, "production_date": deployed})
            return found

        c1 = change("a", at(1, 10), at(2, 10))  # 24 h
        c2 = change("b", at(1, 4), at(3, 10))  # 54 h
        c3 = change("c", at(6, 10), at(8, 10))  # 48 h
        change("d", at(6, 10), False)  # not deployed
        change("e", at(1, 10), at(2, 12), other)  # the other workspace's

        figures = shop.dora_metrics("2026-10-01", "2026-10-10")
        self.assertEqual(figures["deployment_frequency_ids"], sorted([d1.id, d2.id, d4.id]))
        self.assertAlmostEqual(figures["deployment_frequency"], 3 / 10)
        self.assertEqual(sorted(figures["lead_time_hours_ids"]), sorted([c1.id, c2.id, c3.id]))
        self.assertEqual(figures["lead_time_hours"], 48.0)
        self.assertEqual(sorted(figures["change_failure_rate_ids"]), sorted([d2.id, d3.id]))
        self.assertEqual(figures["change_failure_rate"], 50.0)
        self.assertEqual(sorted(figures["time_to_restore_hours_ids"]), sorted([i1.id, i2.id]))
        self.assertEqual(figures["time_to_restore_hours"], 4.0)
        self.assertEqual(
            [figures[f"{n}_level"] for n in ("deployment_frequency", "lead_time_hours",
                                             "change_failure_rate", "time_to_restore_hours")],
            ["high", "high", "low", "high"],
        )  # fmt: skip
        # The dashboard: the same figures, their levels, the records behind each.
        board = self.env["devops.dora.dashboard"].create(
            {"workspace_id": shop.id, "date_from": "2026-10-01", "date_to": "2026-10-10"}
        )
        self.assertEqual(
            [board.deployment_frequency, board.lead_time_hours, board.change_failure_rate,
             board.time_to_restore_hours],
            ["0.30 per day (2.1 per week)", "2.0 days", "50 %", "4.0 hours"],
        )  # fmt: skip
        self.assertEqual(
            [board.deployment_frequency_count, board.lead_time_hours_count,
             board.change_failure_rate_count, board.time_to_restore_hours_count],
            [3, 3, 2, 2],
        )  # fmt: skip
        self.assertEqual(board.change_failure_rate_level, "low")
        failures = board.action_open_failures()
        self.assertEqual(failures["res_model"], "devops.deployment")
        self.assertEqual(sorted(failures["domain"][0][2]), sorted([d2.id, d3.id]))
        self.assertEqual(board.display_name, "Delivery metrics: shop")
        self.assertEqual(
            [board.deployment_frequency_link, board.lead_time_hours_link,
             board.change_failure_rate_link, board.time_to_restore_hours_link],
            ["3 production deployments", "3 changes", "2 failed deployments", "2 incidents"],
        )  # fmt: skip
        lead_list = board.action_open_lead_time()
        lead_view = self.env.ref("erplibre_devops.devops_change_view_list_lead_time")
        self.assertEqual(lead_list["views"][0][0], lead_view.id)
        # Week by week, newest first, weeks named by their Monday (in the user's date
        # format) and cut to the period (Thursday 1 to Saturday 10): d4 (d3 rolled back),
        # c3 (48 h), d3 of two failed, i2 (6 h); then d1 d2, c1 c2 (median 39 h), d2 of two
        # failed, i1 (2 h).
        self.assertEqual(board.history_html.count("<tr>"), 3)
        rows = board.history_html.split("<tr>")[2:]
        self.assertIn(
            "<td>10/05/2026</td><td>1</td><td>2.0 days</td><td>50 %</td><td>6.0 hours</td>",
            rows[0],
        )
        self.assertIn(
            "<td>09/28/2026</td><td>2</td><td>39.0 hours</td><td>50 %</td><td>2.0 hours</td>",
            rows[1],
        )
        long = self.env["devops.dora.dashboard"].create(
            {"workspace_id": shop.id, "date_from": "2026-01-01", "date_to": "2026-10-10"}
        )
        self.assertEqual(long.history_html.count("<tr>"), 13)  # the header and 12 weeks
        self.assertIn("—", long.history_html)  # weeks without anything
        self.assertEqual(
            [board._shown("lead_time_hours", v) for v in (0.3, 4.0, 72.0)],
            ["18 minutes", "4.0 hours", "3.0 days"],
        )
        # Every workspace: the other's deployment, change and incident too.
        both = (shop | other).dora_metrics(datetime.date(2026, 10, 1), datetime.date(2026, 10, 10))
        self.assertEqual(len(both["deployment_frequency_ids"]), 4)
        self.assertEqual(len(both["lead_time_hours_ids"]), 4)
        # The failure window is a setting: 1 h makes d2's incident (5 h later) no failure.
        self.env["ir.config_parameter"].sudo().set_param("erplibre_devops.dora_failure_hours", "1")
        self.assertEqual(shop.dora_metrics("2026-10-01", "2026-10-10")["change_failure_rate"], 25.0)
        # An empty period: no data, never 0.
        empty = shop.dora_metrics("2025-01-01", "2025-01-31")
        self.assertEqual(
            (empty["deployment_frequency"], empty["lead_time_hours"], empty["change_failure_rate"]),
            (0.0, None, None),
        )
        # Bad periods and values are refused with a message.
        for args in (("2026-10-10", "2026-10-01"), ("yesterday", "2026-10-01"), (5, "2026-10-01"),
                     (["2026-10-01"], "2026-10-02"), ("2010-01-01", "2026-10-01")):  # fmt: skip
            with self.subTest(args=args), self.assertRaises(UserError):
                shop.dora_metrics(*args)
        for dates in (("9999-01-01", "9999-12-31"), ("0001-01-01", "0001-01-05")):
            with self.subTest(dates=dates), self.assertRaises(UserError):
                shop.dora_metrics(*dates)
        with self.assertRaises(UserError):
            self.env["devops.workspace"].browse(["a"]).dora_metrics("2026-10-01", "2026-10-10")
        far = self.env["devops.dora.dashboard"].create(
            {"date_from": "9999-01-01", "date_to": "9999-12-31"}
        )
        self.assertIn("between 1900", far.history_html)
        self.assertFalse(far.deployment_frequency)
        self.assertEqual(far.display_name, "Delivery metrics")
        backwards = self.env["devops.dora.dashboard"].create(
            {"date_from": "2026-10-10", "date_to": "2026-10-01"}
        )
        self.assertIn("ends before it starts", backwards.history_html)
        # Nothing deployed in production: said, without a level ("low" would be a verdict).
        quiet = self.env["devops.dora.dashboard"].create(
            {"workspace_id": other.id, "date_from": "2025-01-01", "date_to": "2025-01-31"}
        )
        self.assertEqual(
            (quiet.deployment_frequency, quiet.deployment_frequency_level),
            ("No production deployment", False),
        )
        # A user without the DevOps group reads nothing.
        with self.assertRaises(AccessError):
            shop.with_user(self.plain_user).dora_metrics("2026-10-01", "2026-10-10")


@tagged("post_install", "-at_install")
class TestPlanRules(DevopsCase):
    def test_reasons_are_the_engines(self):
        """The translated reasons are the engine's templates, every one."""
        self.assertEqual({key: text._source for key, text in REASONS.items()}, plan_engine.REASONS)

    def test_people_write_the_plan_the_app_the_facts(self):
        workspace = self.make_workspace("Rules", path=self.make_tempdir())
        other_ws = self.make_workspace("Other", path=self.make_tempdir())
        Change = self.env["devops.change"].with_user(self.devops_user)
        stage_deploy = self.env.ref("erplibre_devops.stage_deploy")
        change = Change.create(
            {
                "name": "Forged",
                "workspace_ids": [workspace.id],
                "branch": "feature/forged",
                "stage_id": stage_deploy.id,
                "started": True,
                "facts": json.dumps({"stage": {"production": ["2020-01-01T00:00:00", "x"]}}),
                "production_date": "2020-01-01 00:00:00",
            }
        )
        self.assertEqual(
            (change.stage_id.code, change.started, change.production_date), ("plan", False, False)
        )
        for forged in ({"stage_id": stage_deploy.id}, {"facts": "{}"}, {"blocked": True},
                       {"release_ids": [(6, 0, [])]}, {"lead_time_hours": 1.0}):  # fmt: skip
            with self.subTest(forged=forged), self.assertRaises(AccessError):
                change.write(forged)
        hostile = ["-x", "a b", "main", "HEAD", "x..y", "feature/x.lock", "a" * 201, "@",
                   "origin/main", "refs/heads/x", ".hidden", "a//b", "/abs", 5, []]  # fmt: skip
        for branch in hostile:
            with self.subTest(branch=branch), self.assertRaises(UserError):
                change.write({"branch": branch})
        with self.assertRaises(UserError):  # the branch is the change's alone
            Change.create({"name": "Twin", "branch": "feature/forged"})

        # Workspaces that do not exist, a responsible who is not a DevOps user: messages.
        for command in ([(6, 0, [999999])], [(4, 999999)], [(6, 0, ["a"])]):
            with self.subTest(command=command), self.assertRaises(UserError):
                change.write({"workspace_ids": command})
        portal = new_test_user(self.env, login="plan_portal", groups="base.group_portal")
        with self.assertRaises(UserError):
            change.write({"user_id": portal.id})
        # A copy is a new change, without the branch (one change per branch).
        twin = change.copy()
        self.assertEqual((twin.branch, twin.stage_id.code), (False, "plan"))

        # Scaffolding: hostile names, folders, types; a workspace not the change's.
        hostile = [
            ("../x", "lib"), ("x;rm", "lib"), ("Bad", "lib"), (123, "lib"), (["a"], "lib"),
            ("good_name", "../../etc"), ("good_name", "-rf"), ("good_name", ["lib"]),
            ("good_name", "lib/.git"), ("good_name", "lib/*"), ("good_name", ":(top)"),
        ]  # fmt: skip
        for name, addons_dir in hostile:
            with self.subTest(name=name, addons_dir=addons_dir), self.assertRaises(UserError):
                change.action_scaffold_module(name, addons_dir)
        with self.assertRaises(UserError):
            change.action_scaffold_module("good_name", "lib", workspace_id=other_ws.id)
        with self.assertRaises(UserError):
            change.action_scaffold_module("good_name", "lib", workspace_id="1")
        with self.assertRaises(UserError):
            change.action_scaffold_module("good_name", "lib", depends="base; rm")

        # Who sees what: plain and portal users nothing; the team everything.
        for user in (self.plain_user,):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                change.with_user(user).read(["name"])
        self.assertEqual(
            self.env["devops.change"]
            .with_user(self.devops_manager)
            .search([("id", "=", change.id)]),
            change,
        )
        # A dialog of one's own only.
        wizard = (
            self.env["devops.change.scaffold.wizard"]
            .with_user(self.devops_user)
            .create({"change_id": change.id, "name": "x_mod", "addons_dir": "lib"})
        )
        with self.assertRaises(AccessError):
            wizard.with_user(self.devops_manager).action_scaffold()

    def test_start_guards_and_suggestions(self):
        """What a new user trips on: the branch suggested from the title, the next step in
        the reason, Start refused under production and on a base branch, a started change
        keeps a workspace, the scaffold dialog's suggestions."""
        Change = self.env["devops.change"]
        self.assertEqual(
            [Change._suggest_branch(n, k) for n, k in (("Fix the login page", "fix"),
                                                       ("Library books", "feature"),
                                                       ("!!!", "chore"))],
            ["fix/login-page", "feature/library-books", "chore/change"],
        )  # fmt: skip
        workspace = self.make_workspace("Guards", path=self.make_tempdir())
        self.env["devops.workspace.repo"].create(
            {"workspace_id": workspace.id, "url": "/srv/odoo.git", "branch": "18.0",
             "folder": "odoo"}
        )  # fmt: skip
        change = Change.with_user(self.devops_user).create({"name": "Guards"})
        self.assertEqual(change.stage_id.code, "plan")
        self.assertTrue(change.stage_reason.startswith("Not started: choose its workspaces"))
        change.write({"workspace_ids": [workspace.id], "branch": "feature/guards"})
        self.assertTrue(change.stage_reason.startswith("Not started: click Start"))
        # A repository's base branch is refused on save (with the change's own suggestion),
        # and at Start (a repository's branch may have changed since).
        with self.assertRaises(ValidationError) as refused:  # (Odoo's: in a savepoint)
            change.write({"branch": "18.0"})
        self.assertRegex(str(refused.exception), "base branch of odoo.*feature/guards")
        self.assertEqual(change.branch, "feature/guards")
        workspace.repo_ids.branch = "feature/guards"
        with self.assertRaisesRegex(UserError, "base branch of odoo"):
            change.action_start()
        workspace.repo_ids.branch = "18.0"
        production = self.env["devops.instance"].create(
            {"name": "prod-guards", "workspace_id": workspace.id, "environment": "production",
             "config_path": "/tmp/prod-guards.conf"}
        )  # fmt: skip
        production.sudo().write({"state": "running"})
        with self.assertRaisesRegex(UserError, "prod-guards runs production from Guards"):
            change.action_start()
        self.assertFalse(change.started)
        # Started: the next step is said; its workspaces cannot all go.
        change.sudo().write({"started": True})
        self.assertTrue(change.stage_reason.startswith("Started:"), change.stage_reason)
        with self.assertRaises(UserError):
            change.write({"workspace_ids": [(5,)]})
        self.assertEqual(change.workspace_ids, workspace)
        # The scaffold dialog suggests the title and the technical name from the change.
        wizard = (
            self.env["devops.change.scaffold.wizard"]
            .with_user(self.devops_user)
            .create({"change_id": change.id, "addons_dir": "odoo"})
        )
        self.assertEqual((wizard.title, wizard.name), ("Guards", "guards"))
        wizard.title = "Add the library books 2"
        self.assertEqual(wizard.name, "library_books_2")
        wizard.title = "Ajouter la fiche des élèves"
        self.assertEqual(wizard.name, "fiche_des_eleves")
        self.assertEqual(wizard._short("a" * 40 + " [ADD] x: X"), "aaaaaaaaaa [ADD] x: X")
