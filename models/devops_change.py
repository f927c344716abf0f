"""A planned change: what it is, the branch it is coded on, and the stage its facts put it in.

The stage is never typed: ``_refresh`` reads the branch in the workspaces' repositories
(its head, where it started, the modules it touches) and the app's records at that head
(builds, test runs, releases holding it, deployments, the production instances running it,
their incidents) into ``facts``; ``stage_id`` is computed from them by ``engine.plan.stage``.
Builds, test runs, releases, deployments and incidents refresh the changes they concern when
they end; a cron refreshes the rest (new commits made outside the app, time in production).
"""

import datetime
import json
import logging
import re
import unicodedata

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools.translate import LazyTranslate

from ..engine import plan, scaffold
from ..engine.executor import ExecError
from ..engine.git import GIT_ENV, GitInputError
from .utils import arg_text, stay

_logger = logging.getLogger(__name__)

USER_FIELDS = {
    "name",
    "description",
    "kind",
    "priority",
    "user_id",
    "date_deadline",
    "workspace_ids",
    "branch",
    "active",
    "color",
}
_lt = LazyTranslate(__name__)
MONITOR_PARAM = "erplibre_devops.plan_monitor_hours"
# engine.plan.REASONS, translated (a test checks they are the same templates).
REASONS = {
    "no_workspace": _lt("Not started: choose its workspaces, then click Start to make its branch."),
    "not_started": _lt("Not started: click Start to make its branch in its workspaces."),
    "plan": _lt("Started: no commit on its branch yet; scaffold a module or commit on it."),
    "code": _lt("Commits on its branch; build it."),
    "build_failed": _lt("The build of its head failed."),
    "new_commits": _lt("New commits since the tests passed (%(passed)s): build and test again."),
    "build": _lt("Built at its head; run the tests."),
    "test_failed": _lt("Tests failed at its head (%(run)s)."),
    "regression": _lt("Regression: tests failed at its head (%(run)s) after passing (%(passed)s)."),
    "test": _lt("Tests passed at its head (%(run)s)."),
    "release": _lt("In release %(release)s: deploy it on staging."),
    "release_draft": _lt(
        "In release %(release)s, not approved yet: approve it once its tests pass, then "
        "deploy it on staging."
    ),
    "release_failed": _lt("In release %(release)s; deployment %(deployment)s failed."),
    "deploy": _lt("Deployed on staging (%(deployment)s)."),
    "operate": _lt("Running on %(instance)s; Monitor after %(hours)s h without incident."),
    "operate_after_incident": _lt(
        "Incident %(incident)s ended %(ended)s; running on %(instance)s; "
        "Monitor after %(hours)s h without incident."
    ),
    "incident_open": _lt("Incident %(incident)s open on %(instance)s."),
    "monitor": _lt("In production on %(instance)s without incident since %(since)s."),
}
CRON_BATCH = 200
# Words a title often starts with that say nothing of the change (left out of the names
# suggested from it).
LEADING_WORDS = {
    *"add fix chore feature new the a an".split(),
    *"ajouter corriger nouveau nouvelle le la les l un une".split(),
}


def _dt(text):
    """A naive UTC datetime from an ISO text (None for nothing or nonsense)."""
    if not text:
        return None
    try:
        moment = datetime.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo:
        moment = moment.astimezone(datetime.UTC).replace(tzinfo=None)
    return moment


def _iso(moment):
    return moment.isoformat() if moment else None


class DevopsChange(models.Model):
    _name = "devops.change"
    _inherit = ["devops.input.mixin"]
    _description = "DevOps planned change"
    _order = "priority desc, date_deadline, id desc"

    name = fields.Char(string="Title", required=True)
    description = fields.Html(sanitize=True)
    kind = fields.Selection(
        [("feature", "Feature"), ("fix", "Fix"), ("chore", "Chore")],
        default="feature",
        required=True,
    )
    priority = fields.Selection(
        [("0", "Normal"), ("1", "High"), ("2", "Urgent")], default="0", required=True
    )
    user_id = fields.Many2one(
        "res.users", string="Responsible", default=lambda self: self.env.user, index=True
    )
    date_deadline = fields.Date(string="Deadline")
    workspace_ids = fields.Many2many("devops.workspace", string="Workspaces")
    branch = fields.Char(
        copy=False,
        help="The git branch the change is coded on, in every repository of its workspaces.",
    )
    active = fields.Boolean(default=True)
    color = fields.Integer()
    started = fields.Boolean(readonly=True, copy=False, help="Its branch was made by Start.")
    base_commits = fields.Text(
        readonly=True, copy=False, help="JSON {workspace id: {folder: commit it started from}}."
    )
    facts = fields.Text(readonly=True, copy=False, help="JSON: what the stage is computed from.")
    facts_date = fields.Datetime(string="Checked on", readonly=True, copy=False)
    stage_id = fields.Many2one(
        "devops.stage",
        compute="_compute_stage",
        store=True,
        index=True,
        group_expand="_read_group_stage_ids",
    )
    stage_code = fields.Char(related="stage_id.code")
    stage_reason = fields.Char(string="Why", compute="_compute_stage_reason")
    blocked = fields.Boolean(compute="_compute_stage", store=True)
    commit_count = fields.Integer(string="Commits", readonly=True, copy=False)
    modules = fields.Char(string="Modules touched", readonly=True, copy=False)
    first_commit_date = fields.Datetime(string="First commit", readonly=True, copy=False)
    production_date = fields.Datetime(
        string="In production since", readonly=True, copy=False,
        help="The end of the first production deployment that brought it.",
    )  # fmt: skip
    lead_time_hours = fields.Float(
        string="Lead time", readonly=True, copy=False, aggregator="avg",
        help="First commit → first production deployment, in hours (shown as hours:minutes).",
    )  # fmt: skip
    build_state = fields.Selection(
        [("none", "Not yet"), ("done", "Succeeded"), ("failed", "Failed")],
        string="Build at its head", readonly=True, default="none", copy=False,
    )  # fmt: skip
    test_state = fields.Selection(
        [("none", "Not yet"), ("passed", "Passed"), ("failed", "Failed")],
        string="Tests at its head", readonly=True, default="none", copy=False,
    )  # fmt: skip
    build_id = fields.Many2one("devops.build", readonly=True, copy=False)
    test_run_id = fields.Many2one("devops.test.run", readonly=True, copy=False)
    release_ids = fields.Many2many(
        "devops.release", string="Releases holding it", readonly=True, copy=False
    )
    deployment_ids = fields.Many2many(
        "devops.deployment", string="Deployments", readonly=True, copy=False
    )
    instance_ids = fields.Many2many(
        "devops.instance", string="Running in production", readonly=True, copy=False
    )
    release_count = fields.Integer(string="Release count", compute="_compute_counts")
    deployment_count = fields.Integer(string="Deployment count", compute="_compute_counts")

    @api.constrains("user_id")
    def _check_responsible(self):
        for change in self.filtered("user_id"):
            user = change.user_id.sudo()
            if user.share or not user._has_group("erplibre_devops.group_devops_user"):
                raise ValidationError(self.env._("A change's responsible is a DevOps user."))

    @api.constrains("branch")
    def _check_branch_unique(self):
        for change in self.filtered("branch"):
            twin = (
                self.with_context(active_test=False)
                .sudo()
                .search_count([("branch", "=", change.branch), ("id", "!=", change.id)], limit=1)
            )
            if twin:
                raise ValidationError(
                    self.env._(
                        "Another change already uses the branch %(branch)s.", branch=change.branch
                    )
                )

    @api.depends("release_ids", "deployment_ids")
    def _compute_counts(self):
        for change in self:
            change.release_count = len(change.release_ids)
            change.deployment_count = len(change.deployment_ids)

    # --- The stage -----------------------------------------------------------------------

    @api.model
    def _read_group_stage_ids(self, stages, _domain):
        return stages.search([("active", "=", True)])

    def _stage(self):
        """(code, reason key, params, blocked) from the stored facts."""
        facts = self._stage_facts()
        now = _dt(facts.pop("now", None)) or fields.Datetime.now()
        window = datetime.timedelta(hours=self._monitor_hours())
        return plan.stage(facts, now, window)

    @api.depends("facts")
    def _compute_stage(self):
        stages = {s.code: s for s in self.env["devops.stage"].sudo().search([])}
        for change in self:
            code, _key, _params, blocked = change._stage()
            change.stage_id = stages.get(code)
            change.blocked = blocked

    @api.depends("facts", "started", "workspace_ids", "release_ids.state")
    def _compute_stage_reason(self):
        """Why, in the reader's language."""
        lang = self.env.lang or "en_US"
        for change in self:
            _code, key, params, _blocked = change._stage()
            change.stage_reason = REASONS[key]._translate(lang) % params

    def _stage_facts(self):
        """``facts`` as ``engine.plan.stage`` reads them."""
        try:
            facts = json.loads(self.facts or "{}")
        except ValueError:
            facts = {}
        facts = dict(facts.get("stage", {})) if isinstance(facts, dict) else {}
        facts["started"] = self.started
        facts["workspaces"] = bool(self.workspace_ids)
        facts["release_approved"] = any(
            r.state in ("approved", "released") for r in self.sudo().release_ids
        )
        if facts.get("production"):
            facts["production"] = (_dt(facts["production"][0]), facts["production"][1])
        if facts.get("incident"):
            start, end, name = facts["incident"]
            facts["incident"] = (_dt(start), _dt(end), name)
        for key in ("test",):
            if facts.get(key):
                facts[key] = tuple(facts[key])
        return facts

    @api.model
    def _monitor_hours(self):
        text = self.env["ir.config_parameter"].sudo().get_param(MONITOR_PARAM, "24")
        try:
            return max(float(text), 0.0)
        except ValueError:
            return 24.0

    # --- Create / write: people write the plan, the app writes the facts -----------------

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su:
            vals_list = [{k: v for k, v in vals.items() if k in USER_FIELDS} for vals in vals_list]
        for vals in vals_list:
            self._check_branch(vals.get("branch"))
            if "workspace_ids" in vals:
                self._check_workspace_commands(vals["workspace_ids"])
        changes = super().create(vals_list)
        changes.workspace_ids.check_access("read")
        return changes

    def write(self, vals):
        if not self.env.su:
            forged = set(vals) - USER_FIELDS
            if forged:
                raise AccessError(
                    self.env._(
                        "These fields are the app's to write: %(fields)s.",
                        fields=", ".join(sorted(forged)),
                    )
                )
        if "workspace_ids" in vals:
            self._check_workspace_commands(vals["workspace_ids"])
        if "branch" in vals:
            self._check_branch(vals["branch"])
            if any(c.started and c.branch != vals["branch"] for c in self):
                raise UserError(
                    self.env._("The branch of a started change stays: make a new change.")
                )
        result = super().write(vals)
        if "workspace_ids" in vals:
            if any(c.started and not c.workspace_ids for c in self):
                raise UserError(
                    self.env._(
                        "A started change keeps at least one workspace: its branch is there."
                    )
                )
            if not self.env.su:
                self.workspace_ids.check_access("read")
        return result

    @api.model
    def _check_branch(self, branch):
        if branch in (None, False, ""):
            return
        try:
            plan.check_branch(branch)
        except GitInputError as error:
            if "cannot be a change's branch" not in str(error):
                raise UserError(str(error)) from error
            raise UserError(
                self.env._(
                    "%(branch)s cannot be a change's branch: give it one of its own, such as "
                    "feature/my-change.",
                    branch=branch,
                )
            ) from error

    @api.model
    def _check_workspace_commands(self, commands):
        """The workspaces named by ``commands`` exist (a message, not an SQL error)."""
        ids = []
        for command in commands if isinstance(commands, list | tuple) else [commands]:
            if isinstance(command, list | tuple) and command and command[0] == 6:
                ids += list(command[2] or []) if len(command) > 2 else []
            elif isinstance(command, list | tuple) and command and command[0] in (3, 4):
                ids.append(command[1] if len(command) > 1 else None)
            elif isinstance(command, int) and not isinstance(command, bool):
                ids.append(command)
        if any(isinstance(i, bool) or not isinstance(i, int) for i in ids):
            raise UserError(self.env._("Workspaces are given by their ids."))
        if len(self.env["devops.workspace"].browse(ids).exists()) != len(set(ids)):
            raise UserError(self.env._("No such workspace."))

    @api.onchange("name", "kind")
    def _onchange_suggest_branch(self):
        if self.name and not self.started and not self._origin.branch:
            self.branch = self._suggest_branch(self.name, self.kind)

    @staticmethod
    def _title_words(title):
        """The words of a title that name the change: "Fix the login page" → login, page
        (lowercase ASCII, accents dropped)."""
        text = unicodedata.normalize("NFKD", title or "").encode("ascii", "ignore").decode()
        words = [w for w in re.split(r"[^a-z0-9]+", text.lower()) if w]
        while len(words) > 1 and words[0] in LEADING_WORDS:
            words = words[1:]
        return words

    @classmethod
    def _suggest_branch(cls, name, kind):
        """``fix/login-page`` for a fix titled "Fix the login page" (the kind once)."""
        slug = "-".join(cls._title_words(name))[:50].strip("-") or "change"
        return f"{kind or 'feature'}/{slug}"

    @api.constrains("branch", "workspace_ids")
    def _check_not_a_base_branch(self):
        for change in self.filtered("branch"):
            problem = change._base_branch_problem()
            if problem:
                raise ValidationError(problem)

    def _base_branch_problem(self):
        """Why the branch cannot be this change's: it is a repository's base branch."""
        repos = self.workspace_ids.sudo().repo_ids
        base = repos.filtered(lambda r: (r.branch or "") == self.branch)[:1]
        if not base:
            return None
        return self.env._(
            "%(branch)s is the base branch of %(repo)s: a change has a branch of its own, "
            "such as %(example)s.",
            branch=self.branch,
            repo=base.folder or base.url,
            example=self._suggest_branch(self.name, self.kind),
        )

    # --- Reading the facts ---------------------------------------------------------------

    def _bases(self):
        try:
            bases = json.loads(self.base_commits or "{}")
        except ValueError:
            return {}
        return bases if isinstance(bases, dict) else {}

    def _old_git(self):
        try:
            facts = json.loads(self.facts or "{}")
        except ValueError:
            return {}
        return (facts.get("git") or {}) if isinstance(facts, dict) else {}

    def _read_git(self, workspace):
        """{folder: {head, base, count, first, modules}} of the branch in ``workspace``;
        folders whose branch is gone keep what was known (a merged, deleted branch)."""
        old = self._old_git().get(str(workspace.id), {})
        bases = self._bases().get(str(workspace.id), {})
        repos = workspace._repos_in_order()
        items = [(r.folder or ".", bases.get(r.folder or ".", "")) for r in repos] or [(".", "")]
        executor = workspace.machine_id._executor()
        ok, out = executor.read_stdout(
            plan.facts_argv(self.branch, items), cwd=workspace.path, env=GIT_ENV, timeout=60
        )
        found = plan.parse_facts(out) if ok else {}
        merged = dict(old)
        for folder, repo in found.items():
            merged[folder] = {
                "head": repo["head"],
                "base": repo["base"],
                "count": repo["count"],
                "first": _iso(repo["first"]),
                "modules": repo["modules"],
            }
        return merged

    def _contained(self, heads_by_ws):
        """The releases (of the change's workspaces, newest 30 each) whose commits hold
        every head of the change."""
        Release = self.env["devops.release"]
        heads = {}
        for ws_heads in heads_by_ws.values():
            for folder, sha in ws_heads.items():
                heads.setdefault(folder, sha)
        if not heads:
            return Release
        found = Release
        for workspace in self.workspace_ids:
            releases = Release.search(
                [("workspace_id", "=", workspace.id), ("state", "!=", "cancelled")],
                order="id desc",
                limit=30,
            )
            triples, candidates = [], []
            for rel in releases:
                commits = rel._commits()
                if all(folder in commits for folder in heads):
                    candidates.append(rel)
                    triples += [(f, sha, commits[f]) for f, sha in heads.items()]
            if not triples:
                continue
            try:
                executor = workspace.machine_id._executor()
                ok, out = executor.read_stdout(
                    plan.contains_argv(triples), cwd=workspace.path, env=GIT_ENV, timeout=60
                )
            except (ExecError, GitInputError) as error:
                _logger.info("Plan: releases of %s not read: %s", workspace.name, error)
                continue
            answers = plan.parse_contains(out) if ok else {}
            for rel in candidates:
                commits = rel._commits()
                if all(answers.get((f, sha, commits[f])) for f, sha in heads.items()):
                    found |= rel
        return found

    def _refresh(self, read_git=True):
        """Read the facts again (git when ``read_git``), as the app."""
        for change in self.sudo():
            try:
                with self.env.cr.savepoint():
                    change._refresh_one(read_git)
            except (ExecError, GitInputError, UserError) as error:
                _logger.info("Plan: change %s not refreshed: %s", change.id, error)
            except Exception:  # a hook of a build, a test run, a deployment: never breaks it
                _logger.exception("Plan: change %s not refreshed", change.id)

    def _refresh_one(self, read_git):
        self.ensure_one()
        git_facts = self._old_git()
        if read_git and self.branch:
            for workspace in self.workspace_ids:
                git_facts[str(workspace.id)] = self._read_git(workspace)
        heads = {
            ws: {f: repo["head"] for f, repo in repos.items() if repo.get("count")}
            for ws, repos in git_facts.items()
        }
        heads = {ws: h for ws, h in heads.items() if h}
        releases = (
            self._contained(heads) if (read_git or not self.release_ids) else self.release_ids
        )
        stage, values = self._record_facts(heads, releases)
        firsts = [
            _dt(repo.get("first"))
            for repos in git_facts.values()
            for repo in repos.values()
            if repo.get("count")
        ]
        modules = sorted(
            {m for repos in git_facts.values() for repo in repos.values() for m in repo["modules"]}
        )
        first = min((f for f in firsts if f), default=None)
        production = values.pop("production_date")
        self.write(
            {
                **values,
                "facts": json.dumps(
                    {"git": git_facts, "stage": {**stage, "now": _iso(fields.Datetime.now())}},
                    sort_keys=True,
                ),
                "facts_date": fields.Datetime.now(),
                "commit_count": sum(
                    repo.get("count", 0) for repos in git_facts.values() for repo in repos.values()
                ),
                "modules": ", ".join(modules) or False,
                "first_commit_date": first,
                "production_date": production,
                "lead_time_hours": (production - first).total_seconds() / 3600
                if production and first
                else 0.0,
                "release_ids": [fields.Command.set(releases.ids)],
            }
        )

    def _at_head(self, heads, commits):
        """Do ``commits`` ({folder: sha} or {folder: [sha, branch]}) hold ``heads`` exactly?"""
        if not heads or not isinstance(commits, dict):
            return False
        for folder, sha in heads.items():
            found = commits.get(folder)
            if isinstance(found, list):
                found = found[0] if found else None
            if found != sha:
                return False
        return True

    @staticmethod
    def _json(text):
        try:
            value = json.loads(text or "{}")
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def _record_facts(self, heads, releases):
        """(facts for the stage, values to store) from the app's records at ``heads``."""
        stage = {"commits": bool(heads)}
        values = {"build_state": "none", "test_state": "none", "build_id": False}
        values.update({"test_run_id": False, "production_date": False})
        builds, tests, befores = [], [], []
        for ws_id, ws_heads in heads.items():
            workspace = self.env["devops.workspace"].browse(int(ws_id)).exists()
            if not workspace:
                continue
            build = next(
                (
                    b
                    for b in self.env["devops.build"].search(
                        [("workspace_id", "=", workspace.id), ("state", "in", ("done", "failed"))],
                        order="id desc",
                        limit=50,
                    )
                    if self._at_head(ws_heads, self._json(b.commits))
                ),
                None,
            )
            runs = self.env["devops.test.run"].search(
                [
                    ("workspace_id", "=", workspace.id),
                    ("state", "in", ("passed", "failed", "error")),
                ],
                order="id desc",
                limit=100,
            )
            test = next((r for r in runs if self._at_head(ws_heads, self._json(r.commits))), None)
            if not build and test and test.build_id.state == "done":
                build = test.build_id
            builds.append(build)
            tests.append(test)
            befores += [
                r
                for r in runs
                if r.state == "passed" and r.branch == self.branch and (not test or r.id < test.id)
            ]
        if heads and all(builds):
            failed = [b for b in builds if b.state == "failed"]
            values["build_id"] = (failed or builds)[0].id
            values["build_state"] = "failed" if failed else "done"
            stage["build"] = values["build_state"]
        if heads and all(tests):
            failed = [t for t in tests if t.state != "passed"]
            chosen = (failed or tests)[0]
            values["test_run_id"] = chosen.id
            values["test_state"] = "failed" if failed else "passed"
            stage["test"] = ("failed" if failed else "passed", chosen.name)
        elif heads and any(t and t.state != "passed" for t in tests):
            chosen = next(t for t in tests if t and t.state != "passed")
            values["test_run_id"] = chosen.id
            values["test_state"] = "failed"
            stage["test"] = ("failed", chosen.name)
        if befores and stage.get("test", ("",))[0] != "passed":
            stage["passed_before"] = max(befores, key=lambda r: r.id).name
        if releases:
            stage["release"] = releases.sorted("id")[0].version
        deployments = self.env["devops.deployment"].search(
            [("release_id", "in", releases.ids), ("dry_run", "=", False)], order="id desc"
        )
        values["deployment_ids"] = [fields.Command.set(deployments.ids)]
        last = deployments.filtered(lambda d: d.state not in ("draft", "waiting", "cancelled"))[:1]
        if last and last.state in ("failed", "rolled_back"):
            stage["deploy_failed"] = last.name
        staging = deployments.filtered(lambda d: d.environment == "staging" and d.state == "done")
        if staging:
            stage["staging"] = staging[0].name
        prod_done = deployments.filtered(
            lambda d: d.environment == "production" and d.state == "done" and d.date_end
        )
        if prod_done:
            values["production_date"] = min(prod_done.mapped("date_end"))
        running = self.env["devops.instance"].search(
            [
                ("environment", "=", "production"),
                ("release_id", "in", releases.ids),
                ("state", "!=", "stopped"),
            ]
        )
        values["instance_ids"] = [fields.Command.set(running.ids)]
        if running and prod_done:
            arrivals = [
                (min(prod_done.filtered(lambda d, i=inst: d.instance_id == i).mapped("date_end")),
                 inst)
                for inst in running
                if prod_done.filtered(lambda d, i=inst: d.instance_id == i)
            ]  # fmt: skip
            if arrivals:
                since, instance = min(arrivals, key=lambda a: a[0])
                stage["production"] = (_iso(since), instance.name)
                incident = self.env["devops.incident"].search(
                    [("instance_id", "=", instance.id), ("date_start", ">=", since)],
                    order="date_start desc, id desc",
                    limit=1,
                )
                if incident:
                    stage["incident"] = (
                        _iso(incident.date_start),
                        _iso(incident.date_end),
                        incident.display_name,
                    )
        return stage, values

    # --- Who refreshes -------------------------------------------------------------------

    @api.model
    def _refresh_workspaces(self, workspaces, read_git=True):
        """The active changes of ``workspaces`` read their facts again (hooks of builds, test
        runs, releases, deployments, commits)."""
        changes = self.sudo().search(
            [("workspace_ids", "in", workspaces.ids), ("branch", "!=", False)],
            order="write_date desc",
            limit=50,
        )
        changes._refresh(read_git=read_git)

    @api.model
    def _refresh_instances(self, instances):
        """The changes running on ``instances`` (an incident began or ended there)."""
        changes = self.sudo().search([("instance_ids", "in", instances.ids)], limit=50)
        changes._refresh(read_git=False)

    @api.model
    def _cron_refresh(self):
        """New commits made outside the app, time in production: every change not yet in
        Monitor (and those in Monitor, which an incident can send back)."""
        changes = self.sudo().search([("branch", "!=", False)], order="facts_date asc, id")
        batch = changes[:CRON_BATCH]
        for change in batch:
            change._refresh(read_git=change.stage_code in ("plan", "code", "build", "test", False))
        self.env["ir.cron"]._notify_progress(done=len(batch), remaining=len(changes) - len(batch))

    # --- Actions -------------------------------------------------------------------------

    def _check_doer(self):
        """A DevOps user who may write the change and read its workspaces."""
        self._ensure_one_existing()
        self.check_access("write")
        self.workspace_ids.check_access("read")
        if not self.workspace_ids:
            raise UserError(self.env._("Choose the workspace(s) the change touches first."))
        if not self.branch:
            raise UserError(self.env._("Give the change a branch name first."))

    def action_refresh(self):
        """Read the branch and the records again, now."""
        self._ensure_one_existing()
        self.check_access("read")
        self._refresh(read_git=True)
        return True

    def action_start(self):
        """Create the change's branch in every repository of its workspaces, from each
        repository's base branch (switched to where it exists already)."""
        self._check_doer()
        bases = self._bases()
        running = self._check_start_places()
        for workspace in self.workspace_ids:
            repos = workspace.sudo()._repos_in_order()
            items = [(r.folder or ".", r.branch or "") for r in repos]
            try:
                argv = plan.start_argv(self.branch, items)
            except GitInputError as error:
                raise UserError(str(error)) from error
            ok, out, run = workspace._git(argv, title=f"Start {self.branch}")
            if not ok:
                raise UserError(
                    self.env._(
                        "The branch could not be made in %(ws)s: %(error)s",
                        ws=workspace.name,
                        error=((run.error_message or run.output) if run else out).strip()[-2000:],
                    )
                )
            started = plan.parse_start(out)
            kept = bases.get(str(workspace.id), {})
            for folder, (base, _how) in started.items():
                kept.setdefault(folder, base)
            bases[str(workspace.id)] = kept
            if workspace.git_root:  # its summary (repositories in folders have their own)
                workspace.sudo().with_context(devops_git_soft=True)._git_status(record=False)
        self.sudo().write({"started": True, "base_commits": json.dumps(bases, sort_keys=True)})
        self._refresh(read_git=True)
        message = self.env._("Branch %(branch)s ready in every repository.", branch=self.branch)
        if running:
            message += " " + self.env._(
                "%(instances)s run from these folders: they run the branch's code from their "
                "next restart.",
                instances=", ".join(running.mapped("name")),
            )
        return stay(message, "warning" if running else "success")

    def _check_start_places(self):
        """Start switches the workspaces' repositories to the branch: refused where a
        production instance runs from them, or where the branch is a repository's base
        branch; returns the other instances running there (they are warned about)."""
        running = self.env["devops.instance"]
        problem = self._base_branch_problem()
        if problem:
            raise UserError(problem)
        for workspace in self.workspace_ids.sudo():
            repos = workspace._repos_in_order()
            if not repos:
                raise UserError(
                    self.env._("%(ws)s has no repository: add and clone one.", ws=workspace.name)
                )
            instances = (
                self.env["devops.instance"]
                .sudo()
                .search([("workspace_id", "=", workspace.id), ("state", "!=", "stopped")])
            )
            production = instances.filtered(lambda i: i.environment == "production")
            if production:
                raise UserError(
                    self.env._(
                        "%(instances)s runs production from %(ws)s: start the change in a "
                        "development workspace (a clone of the same repositories), not under "
                        "production.",
                        instances=", ".join(production.mapped("name")),
                        ws=workspace.name,
                    )
                )
            running |= instances
        return running

    def action_scaffold_module(self, name, addons_dir, title=None, depends=None,
                               license_="LGPL-3", workspace_id=None):  # fmt: skip
        """Write a new Odoo 18 module ``name`` in ``addons_dir`` (a folder of the workspace,
        such as ``addons`` or ``shop``) and commit it on the change's branch; returns the
        commit's "sha subject"."""
        self._check_doer()
        name = arg_text(self.env, self.env._("The module name"), name, 63)
        addons_dir = arg_text(self.env, self.env._("The addons folder"), addons_dir, 300) or ""
        title = arg_text(self.env, self.env._("The module title"), title, 100) or name
        if depends is not None and not isinstance(depends, list | tuple):
            raise UserError(self.env._("The dependencies are a list of module names."))
        workspace = self._scaffold_workspace(workspace_id)
        repo_folder, target = self._split_addons_dir(workspace, addons_dir, name or "")
        user = self.env.user
        author = f"{re.sub(r'[<>]', '', user.name or user.login)} <{user.email or user.login}>"
        try:
            files = scaffold.module_files(
                name, title, license_=license_, depends=depends or ["base"]
            )
            argv = plan.scaffold_argv(
                repo_folder, self.branch, target, files, f"[ADD] {name}: {title}", author
            )
        except (scaffold.ScaffoldInputError, GitInputError) as error:
            raise UserError(str(error)) from error
        ok, out, run = workspace._git(argv, title=f"Scaffold {name}")
        if not ok:
            raise UserError(
                self.env._(
                    "The module could not be written: %(error)s",
                    error=((run.error_message or run.output) if run else out).strip()[-2000:],
                )
            )
        workspace.sudo()._scan()
        self._refresh(read_git=True)
        return out.strip()

    def _scaffold_workspace(self, workspace_id):
        if workspace_id in (None, False):
            return self.workspace_ids[:1]
        if isinstance(workspace_id, bool) or not isinstance(workspace_id, int):
            raise UserError(self.env._("The workspace is given by its id."))
        workspace = self.workspace_ids.filtered(lambda w: w.id == workspace_id)
        if not workspace:
            raise UserError(self.env._("That workspace is not one of the change's."))
        return workspace

    def _split_addons_dir(self, workspace, addons_dir, name):
        """(repository folder, module folder inside it) for ``addons_dir``/``name``."""
        clean = addons_dir.strip()
        root = workspace.path.rstrip("/")
        if clean == root or clean.startswith(root + "/"):
            clean = clean[len(root) :]
        parts = [p for p in clean.strip("/").split("/") if p not in ("", ".")]
        try:
            for part in parts:
                plan.check_target(part)
        except GitInputError as error:
            raise UserError(
                self.env._(
                    "The addons folder is a folder inside the workspace: %(error)s", error=error
                )
            ) from error
        clean = "/".join(parts)
        repos = workspace.sudo()._repos_in_order()
        best = None
        for repo in repos:
            folder = repo.folder or ""
            if not folder or clean == folder or clean.startswith(folder + "/"):
                if best is None or len(folder) > len(best):
                    best = folder
        if best is None:
            raise UserError(
                self.env._(
                    "%(dir)s is in no repository of %(ws)s: choose a folder of one of them.",
                    dir=addons_dir,
                    ws=workspace.name,
                )
            )
        inside = clean[len(best) :].strip("/") if best else clean
        return best or ".", f"{inside}/{name}" if inside else name

    def action_open_scaffold_wizard(self):
        self._check_doer()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Scaffold a module"),
            "res_model": "devops.change.scaffold.wizard",
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
            "context": {"default_change_id": self.id},
        }

    def action_run_tests(self):
        """The Test stage's dialog, on the change's workspace and the modules it touches."""
        self._check_doer()
        modules = self.modules or ""
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Run tests: %(change)s", change=self.name),
            "res_model": "devops.test.run.wizard",
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
            "context": {
                "default_workspace_id": self.workspace_ids[:1].id,
                "default_selection": "given" if modules else "all",
                "default_modules": modules.replace(" ", ""),
            },
        }

    def action_request_release(self):
        """A new release of the change's workspace (its commits frozen on save)."""
        self._check_doer()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Release: %(change)s", change=self.name),
            "res_model": "devops.release",
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "current",
            "context": {"default_workspace_id": self.workspace_ids[:1].id},
        }

    def _open(self, model, records, name):
        return {
            "type": "ir.actions.act_window",
            "name": name,
            "res_model": model,
            "view_mode": "list,form",
            "views": [(False, "list"), (False, "form")],
            "domain": [("id", "in", records.ids)],
        }

    def action_view_releases(self):
        self._ensure_one_existing()
        return self._open("devops.release", self.release_ids, self.env._("Releases"))

    def action_view_deployments(self):
        self._ensure_one_existing()
        return self._open("devops.deployment", self.deployment_ids, self.env._("Deployments"))
