"""The Test stage of a workspace: ``run_tests()``, the automatic runs (a followed branch, a
push webhook) and the PostgreSQL the test databases live in.

- ``run_tests(modules=None, since=None, impacted=False, test_tags=None)`` returns the
  devops.test.run id (the pipeline "Test" runs it).
- A repository that *follows* its branch is checked by the cron "DevOps: follow branches"
  (``git ls-remote``); a new commit queues a run that pulls first, as the workspace's
  *automatic tests user*.
- The webhook ``/erplibre_devops/webhook/<workspace id>/<token>`` (controllers/webhook.py)
  does the same at once on a push signed with the workspace's webhook secret.
- Test databases use the PostgreSQL connection of the workspace's instance made by *New Odoo
  instance*, else (this machine) the Odoo server's own.
"""

import hashlib
import secrets

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import SQL, config

from ..engine import testrun
from .devops_test_run import STATES
from .utils import form_action, open_action

USER = "erplibre_devops.group_devops_user"
MANAGER = "erplibre_devops.group_devops_manager"


class DevopsWorkspace(models.Model):
    _inherit = "devops.workspace"

    test_run_ids = fields.One2many("devops.test.run", "workspace_id", string="Test runs")
    test_run_count = fields.Integer(compute="_compute_test_run_count")
    last_test_state = fields.Selection(
        STATES, string="Last tests", compute="_compute_test_run_count", compute_sudo=False
    )
    last_test_run_id = fields.Many2one(
        "devops.test.run", compute="_compute_test_run_count", compute_sudo=False
    )
    tests_pending = fields.Boolean(
        readonly=True, copy=False, help="A push came while a test run was on: one more follows."
    )
    tests_problem = fields.Text(
        string="Automatic tests problem",
        readonly=True,
        copy=False,
        help="Why the last automatic run could not start.",
    )
    tests_queued_date = fields.Datetime(string="Automatic run asked on", readonly=True, copy=False)
    test_user_id = fields.Many2one(
        "res.users",
        string="Automatic tests run as",
        copy=False,
        domain=[("share", "=", False)],
        help="The user the runs of a followed branch and of the webhook are launched as "
        "(set when a manager turns following on or makes the webhook).",
    )
    webhook_token_hash = fields.Char(readonly=True, copy=False, groups=MANAGER)
    webhook_url = fields.Char(string="Webhook URL", compute="_compute_webhook_url", groups=MANAGER)
    webhook_set = fields.Boolean(compute="_compute_webhook_url")

    @api.constrains("test_user_id")
    def _check_test_user(self):
        for workspace in self:
            user = workspace.test_user_id
            if user and (user.share or not user.has_group(USER)):
                raise ValidationError(self.env._("The automatic tests user must be a DevOps user."))

    def _compute_test_run_count(self):
        Run = self.env["devops.test.run"]
        for workspace in self:
            runs = Run.search([("workspace_id", "=", workspace.id)], limit=1)
            workspace.last_test_run_id = runs[:1]
            workspace.last_test_state = runs[:1].state
            workspace.test_run_count = Run.search_count([("workspace_id", "=", workspace.id)])

    def _compute_webhook_url(self):
        base = self.env["ir.config_parameter"].sudo().get_param("web.base.url") or ""
        names = self.env["devops.secret"].sudo()._names(self)
        for workspace in self:
            token = None
            if "webhook_token" in names.get(workspace.id, ()) and self.env.user.has_group(MANAGER):
                token = workspace.sudo()._secret_values().get("webhook_token")
            workspace.webhook_set = "webhook_token" in names.get(workspace.id, ())
            workspace.webhook_url = (
                f"{base.rstrip('/')}/erplibre_devops/webhook/{workspace.id}/{token}"
                if token
                else False
            )

    # --- Running tests -----------------------------------------------------------------

    def run_tests(self, modules=None, since=None, impacted=False, test_tags=None, demo=True,
                  coverage=False, keep_db=False):  # fmt: skip
        """Run the workspace's Odoo tests on a throwaway database; returns the
        devops.test.run id.  ``modules``: technical names (a list, or comma-separated);
        else with ``since`` (a commit, branch or tag) the modules changed since then (and
        with ``impacted``, every module depending on them); else the workspace's own
        modules.  ``test_tags``: Odoo's --test-tags (default: the modules).  ``demo``:
        with demo data; ``coverage``: under coverage run --branch (coverage installed in
        the build); ``keep_db``: keep the database when the run fails."""
        self._ensure_one_existing()
        self.check_access("read")
        values = self._test_values(modules, since, impacted, test_tags, demo, coverage, keep_db)
        return self._run_tests(values).id

    def _test_values(self, modules, since, impacted, test_tags, demo, coverage, keep_db):
        for name, value in (("impacted", impacted), ("demo", demo), ("coverage", coverage),
                            ("keep_db", keep_db)):  # fmt: skip
            if not isinstance(value, bool):
                raise UserError(
                    self.env._("%(name)s is true or false, not %(value)r.", name=name, value=value)
                )
        if isinstance(modules, str):
            modules = [m.strip() for m in modules.split(",")]
        if modules is not None and (
            not isinstance(modules, list | tuple) or not all(isinstance(m, str) for m in modules)
        ):
            raise UserError(self.env._('modules is a list of technical names, such as ["sale"].'))
        try:
            names = testrun.check_modules([m.strip() for m in modules or []])
            tags = testrun.check_test_tags(test_tags)
        except testrun.TestRunInputError as error:
            raise UserError(str(error)) from error
        if since not in (None, False, ""):
            since = self._check_ref(since)
        if impacted and not since:
            raise UserError(self.env._("impacted needs since: the commit to compare with."))
        selection = (
            "given" if names else ("impacted" if impacted else "changed") if since else "all"
        )
        return {
            "selection": selection,
            "modules": ",".join(names) or False,
            "since": since or False,
            "test_tags": tags or False,
            "demo": demo,
            "coverage": coverage,
            "keep_db": keep_db,
        }

    def _run_tests(self, values, trigger="manual"):
        user = self.env.user
        if not self.env.su and not user.has_group(USER):
            raise AccessError(self.env._("Only DevOps users can run tests."))
        # The tests run the workspace's code: a command of one's own, in effect.
        self.env["devops.exec"]._check_may_run_own_commands(self.machine_id)
        workspace = self.sudo()
        if workspace.repo_ids and "cloned" not in workspace.repo_ids.mapped("state"):
            raise UserError(
                self.env._("%(name)s is not cloned yet: Clone it first.", name=self.name)
            )
        if workspace.odoo_path:
            workspace._test_db_connection()  # says now what is missing
        elif not workspace.repo_ids and not workspace.git_root:
            raise UserError(
                self.env._("%(name)s has no Odoo tree and no repository to test: clone first.",
                           name=self.name)
            )  # fmt: skip
        return self.env["devops.test.run"]._queue(
            workspace, {**values, "trigger": trigger, "pull": trigger != "manual"}, user
        )

    def _automatic_problem(self):
        """Why automatic runs cannot start on this workspace (translated), or None."""
        self.ensure_one()
        workspace = self.sudo()
        if not workspace.active:
            return self.env._("The workspace is archived.")
        if workspace.machine_id.kind == "local" and not self._automatic_local_allowed():
            return self.env._(
                "Automatic tests run whatever is pushed: on This machine that code would run "
                "as the Odoo server's user. Use a workspace on an SSH machine (a dedicated "
                "account), or allow it in Settings (Automatic tests on This machine)."
            )
        user = workspace.test_user_id
        if not user or not user.active or not user.has_group(USER):
            return self.env._("The workspace has no automatic tests user (a DevOps user).")
        return None

    def _automatic_local_allowed(self):
        parameter = "erplibre_devops.automatic_tests_local"
        return bool(self.env["ir.config_parameter"].sudo().get_param(parameter))

    def _queue_automatic(self, trigger):
        """A run of a followed branch or a webhook, as the automatic tests user; when a
        test run is already on, one more follows it (``tests_pending``).  The run or None
        (``tests_problem`` says why when it is not pending)."""
        self.ensure_one()
        workspace = self.sudo()
        # One at a time per workspace: a concurrent webhook or cron waits here, then fails
        # to serialize (the row below changed) and is retried by Odoo: it sees this run.
        self.env.cr.execute(
            SQL("SELECT id FROM devops_workspace WHERE id = %s FOR UPDATE", workspace.id),
            log_exceptions=False,  # a serialization failure is retried, not an error
        )
        workspace.tests_queued_date = fields.Datetime.now()
        workspace.flush_recordset(["tests_queued_date"])
        problem = workspace._automatic_problem()
        if problem:
            workspace.tests_problem = problem
            return None
        user = workspace.test_user_id
        active = (
            self.env["devops.pipeline.run"]
            .sudo()
            .search([("lock_key", "=", f"tests:{workspace.id}")], limit=1)
        )
        if active:
            workspace.tests_pending = True
            return None
        try:
            values = workspace.with_user(user)._test_values(
                None, None, False, None, True, False, False
            )
            run = workspace.with_user(user)._run_tests(values, trigger)
        except (UserError, AccessError) as error:
            workspace.tests_problem = str(error.args[0] if error.args else error)
            return None
        workspace.tests_problem = False
        return run

    def _test_db_connection(self):
        """(host, port, user, password) of the PostgreSQL test databases are made in."""
        self.ensure_one()
        instance = (
            self.env["devops.instance"]
            .sudo()
            .search([("workspace_id", "=", self.id), ("build_id", "!=", False)], limit=1)
        )
        if instance:
            return (
                instance.db_host or False,
                instance.db_port or 0,
                instance.db_user or False,
                instance._secret_values().get("db_password") or False,
            )
        if self.machine_id.kind == "local":
            return (
                config.get("db_host") or False,
                int(config.get("db_port") or 0),
                config.get("db_user") or False,
                config.get("db_password") or False,
            )
        raise UserError(
            self.env._(
                "Tests need a PostgreSQL on %(machine)s: make an Odoo instance of this "
                "workspace first (New Odoo instance); test databases use its connection.",
                machine=self.machine_id.display_name,
            )
        )

    def action_run_tests(self):
        self._ensure_one_existing()
        wizard = self.env["devops.test.run.wizard"].create({"workspace_id": self.id})
        return form_action(wizard, name=self.env._("Run tests"))

    def action_view_test_runs(self):
        self._ensure_one_existing()
        return open_action(
            self.env, "erplibre_devops.action_test_run", [("workspace_id", "=", self.id)]
        )

    # --- Webhook -------------------------------------------------------------------------

    def action_generate_webhook(self):
        """Make (or make again) the workspace's push webhook: a token in its URL and a
        secret the forge signs its payloads with.  The secret is shown once."""
        self._ensure_one_existing()
        if not self.env.user.has_group(MANAGER):
            raise AccessError(self.env._("Only DevOps managers make webhooks."))
        self._check_automatic_allowed()
        token = secrets.token_urlsafe(24)
        secret = secrets.token_urlsafe(32)
        workspace = self.sudo()
        workspace._secret_store("webhook_token", token)
        workspace._secret_store("webhook_secret", secret)
        workspace.webhook_token_hash = hashlib.sha256(token.encode()).hexdigest()
        if not workspace.test_user_id and self.env.user.active:
            workspace.test_user_id = self.env.user
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Webhook made: copy its secret now"),
                "message": self.env._(
                    "In the forge, add a push webhook (content type application/json) to "
                    "the URL on the Tests tab, with this secret (shown once): %(secret)s",
                    secret=secret,
                ),
                "type": "warning",
                "sticky": True,
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    def _check_automatic_allowed(self):
        """Following a branch or a webhook on This machine needs the setting."""
        for workspace in self:
            local = workspace.sudo().machine_id.kind == "local"
            if local and not workspace._automatic_local_allowed():
                raise UserError(workspace._automatic_problem())

    def action_forget_webhook(self):
        self._ensure_one_existing()
        if not self.env.user.has_group(MANAGER):
            raise AccessError(self.env._("Only DevOps managers remove webhooks."))
        workspace = self.sudo()
        workspace._secret_store("webhook_token", False)
        workspace._secret_store("webhook_secret", False)
        workspace.webhook_token_hash = False
        return True

    @api.model
    def _webhook_workspace(self, workspace_id, token):
        """The workspace whose webhook token is ``token`` (compared in constant time), or
        an empty recordset."""
        if not isinstance(workspace_id, int) or not isinstance(token, str) or len(token) > 200:
            return self.browse()
        workspace = self.sudo().browse(workspace_id).exists()
        expected = workspace.webhook_token_hash if workspace and workspace.active else ""
        given = hashlib.sha256(token.encode()).hexdigest()
        if not expected or not secrets.compare_digest(expected, given):
            return self.browse()
        return workspace

    def _webhook_push(self, headers, body):
        """A verified push: (HTTP status, what it says)."""
        self.ensure_one()
        secret = self._secret_values().get("webhook_secret")
        if not testrun.verify_webhook(headers, body, secret):
            return 403, {"error": "bad signature"}
        branch = testrun.push_branch(body)
        if branch is None:
            return 202, {"queued": False, "reason": "not a push of a branch"}
        if branch == "":
            return 200, {"queued": False, "reason": "ping"}
        branches = {r.branch for r in self.repo_ids if r.branch}
        if branches and branch not in branches:
            return 202, {"queued": False, "reason": f"branch {branch} is not tested here"}
        run = self._queue_automatic("webhook")
        if run:
            return 202, {"queued": True, "test_run": run.id}
        if self.tests_problem and not self.tests_pending:
            return 409, {"queued": False, "reason": self.tests_problem}
        return 202, {"queued": True, "after_current_run": True}
