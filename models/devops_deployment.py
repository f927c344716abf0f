"""A deployment: a release onto an instance, by the pipeline "Deploy".

Preflight (disk space, database reachable, code clean) → a backup of the database and its
filestore → the release's commits checked out → pip from the release's lock → ``-u`` of the
modules whose version changed → restart → health → smoke check; a failure after the backup
rolls back code *and* database (the pre-deploy backup restored) and restarts
(``devops_pipeline_actions_deploy.py``).  A dry run stops after the preflight and says what
would be done.  Production deployments by a non-manager wait for a manager's approval; one
pipeline at a time per instance (the pipeline run's lock).
"""

import json

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

from .devops_instance import ENVIRONMENTS
from .utils import form_action, stay

MANAGER = "erplibre_devops.group_devops_manager"
STATES = [
    ("draft", "Draft"),
    ("to_approve", "Waiting for approval"),
    ("running", "Running"),
    ("done", "Done"),
    ("failed", "Failed"),
    ("rolled_back", "Rolled back"),
    ("cancelled", "Cancelled"),
]


class DevopsDeployment(models.Model):
    _name = "devops.deployment"
    _inherit = ["devops.input.mixin"]
    _description = "DevOps Deployment"
    _order = "id desc"

    name = fields.Char(compute="_compute_name", store=True)
    release_id = fields.Many2one(
        "devops.release", required=True, index=True, ondelete="restrict",
        domain=[("state", "in", ("candidate", "approved", "released"))],
    )  # fmt: skip
    instance_id = fields.Many2one("devops.instance", required=True, index=True, ondelete="cascade")
    workspace_id = fields.Many2one(
        related="instance_id.workspace_id", store=True, index=True, string="Workspace"
    )
    environment = fields.Selection(
        ENVIRONMENTS, compute="_compute_environment", store=True, readonly=True
    )
    state = fields.Selection(STATES, default="draft", required=True, readonly=True, index=True)
    dry_run = fields.Boolean(
        string="Dry run", help="Check and say what would be done; change nothing."
    )
    update = fields.Selection(
        [
            ("versions", "Modules whose version changed"),
            ("changed", "Every module the release changed"),
        ],
        default="versions",
        required=True,
    )
    modules = fields.Char(string="Modules updated", readonly=True)
    run_id = fields.Many2one("devops.pipeline.run", string="Pipeline run", readonly=True)
    step_ids = fields.One2many(related="run_id.step_ids", string="Steps", compute_sudo=False)
    backup_id = fields.Many2one("devops.instance.backup", string="Backup before", readonly=True)
    previous_release_id = fields.Many2one("devops.release", string="Release before", readonly=True)
    promoted_from_id = fields.Many2one(
        "devops.deployment", string="Promoted from", readonly=True, ondelete="set null"
    )
    user_id = fields.Many2one(
        "res.users", string="By", default=lambda self: self.env.user, readonly=True
    )
    approved_by_id = fields.Many2one("res.users", string="Approved by", readonly=True)
    date_start = fields.Datetime(string="Started", readonly=True)
    date_end = fields.Datetime(string="Ended", readonly=True)
    duration = fields.Float(string="Duration (s)", readonly=True, aggregator="avg")
    message = fields.Text(readonly=True)
    rollback_reason = fields.Text(readonly=True, help="Why the deployment was rolled back.")
    can_approve = fields.Boolean(compute="_compute_can_approve")
    same_release = fields.Boolean(
        compute="_compute_same_release", help="The instance already runs this release."
    )

    @api.depends("instance_id")  # a new record's form computes it when it gets its instance
    @api.depends_context("uid")
    def _compute_can_approve(self):
        manager = self.env.user.has_group(MANAGER)
        for dep in self:
            dep.can_approve = manager

    @api.depends("release_id", "instance_id.release_id")
    def _compute_same_release(self):
        for dep in self:
            dep.same_release = bool(dep.release_id) and dep.instance_id.release_id == dep.release_id

    @api.depends("release_id.version", "instance_id.name", "dry_run")
    def _compute_name(self):
        for dep in self:
            if not dep.instance_id:
                dep.name = dep.release_id.version or False
                continue
            arrow = self.env._("dry run on") if dep.dry_run else "→"
            dep.name = f"{dep.release_id.version or '?'} {arrow} {dep.instance_id.name}"

    @api.depends("instance_id")  # the environment it was deployed to: history, kept
    def _compute_environment(self):
        for dep in self:
            dep.environment = dep.instance_id.environment

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su:  # the rest is the app's to write
            allowed = {"release_id", "instance_id", "dry_run", "update", "promoted_from_id"}
            vals_list = [{k: v for k, v in vals.items() if k in allowed} for vals in vals_list]
        deployments = super().create(vals_list)
        for dep in deployments:
            dep.release_id.check_access("read")
            dep.instance_id.check_access("read")
            dep._check_deployable()  # refused now, not as a draft left behind
        return deployments

    def write(self, vals):
        if not self.env.su and set(vals) - {"dry_run", "update"}:
            raise AccessError(self.env._("A deployment is written by the app only."))
        if not self.env.su and any(dep.state != "draft" for dep in self):
            raise UserError(self.env._("A deployment that started cannot change."))
        return super().write(vals)

    @api.onchange("release_id", "instance_id")
    def _onchange_deployable(self):
        """Say at once when this release cannot go to this instance."""
        if self.release_id and self.instance_id:
            try:
                self._check_deployable()
            except UserError as error:
                return {"warning": {"title": self.env._("Not deployable"), "message": str(error)}}
        return None

    # --- Launch --------------------------------------------------------------------------

    def _check_deployable(self):
        rel, instance = self.release_id, self.instance_id
        allowed = ("approved", "released") if self.environment == "production" else (
            "candidate", "approved", "released")  # fmt: skip
        if rel.state not in allowed:
            raise UserError(
                self.env._(
                    "%(version)s is %(state)s: production takes approved or released releases, "
                    "other environments candidates too.",
                    version=rel.version,
                    state=dict(rel._fields["state"]._description_selection(self.env))[rel.state],
                )
            )
        missing = set(rel._commits()) - set(instance.workspace_id.sudo()._deploy_folders())
        if missing:
            raise UserError(
                self.env._(
                    "The workspace of %(instance)s has no repository in %(folders)s: a release "
                    "is deployed to workspaces of the same repositories.",
                    instance=instance.name,
                    folders=", ".join(sorted(missing)),
                )
            )
        if not instance.config_path:
            raise UserError(
                self.env._(
                    "%(instance)s has no Odoo configuration file made by the app: deployments "
                    "use it for the backup, the update and the restore (make the instance with "
                    "New Odoo instance).",
                    instance=instance.name,
                )
            )

    def action_deploy(self):
        """Start it (a production deployment by a non-manager waits for approval)."""
        self._ensure_one_existing()
        self.check_access("write")
        if self.state != "draft":
            raise UserError(self.env._("This deployment already started."))
        self._check_deployable()
        manager = self.env.user.has_group(MANAGER)
        production = self.environment == "production" and not self.dry_run
        if production and not manager:
            self.sudo().state = "to_approve"
            self._ask_managers()
            return self._reload(self.env._("Sent to the DevOps managers for approval."))
        return self._launch(approver=self.env.user if production else None)

    def _ask_managers(self):
        """A notification in the web client of every DevOps manager: one waits for them."""
        group = self.env.ref(MANAGER)
        payload = json.dumps(
            {
                "title": self.env._("A production deployment waits for your approval"),
                "message": self.env._(
                    "%(user)s asks to deploy %(name)s.", user=self.env.user.name, name=self.name
                ),
                "type": "warning",
                "sticky": True,
                "res_model": self._name,
                "res_id": self.id,
            }
        )
        self.env["devops.alert.delivery"].sudo().create(
            [
                {"channel": "notification", "user_id": user.id, "target": user.name,
                 "payload": payload}
                for user in group.sudo().users.filtered(lambda u: u.active and not u.share)
            ]
        )  # fmt: skip

    def action_approve(self):
        self._ensure_one_existing()
        if not self.env.user.has_group(MANAGER):
            raise AccessError(self.env._("Only a DevOps manager approves a production deployment."))
        if self.state != "to_approve":
            raise UserError(self.env._("This deployment does not wait for an approval."))
        self._check_deployable()
        return self._launch(approver=self.env.user)

    def action_reject(self):
        self._ensure_one_existing()
        if not self.env.user.has_group(MANAGER) and self.user_id != self.env.user:
            raise AccessError(self.env._("Only a DevOps manager or its author cancels it."))
        if self.state not in ("draft", "to_approve"):
            raise UserError(self.env._("Only a deployment that did not start is cancelled here."))
        self.sudo().write({"state": "cancelled", "message": self.env._(
            "Cancelled by %(user)s.", user=self.env.user.name)})  # fmt: skip
        return self._reload(self.env._("Cancelled."))

    def _launch(self, approver=None):
        """Launch the pipeline as the current user (the author, or the approving manager)."""
        self.sudo().write(
            {
                "state": "running",
                "approved_by_id": approver.id if approver else False,
                "date_start": fields.Datetime.now(),
                "previous_release_id": self.instance_id.sudo().release_id.id,
            }
        )
        params = {"deployment_id": self.id}
        if self.dry_run:
            params["dry_run"] = True
        pipeline = self.env.ref("erplibre_devops.pipeline_deploy")
        pipeline._launch_for(
            self.instance_id, params, link=lambda run: self.sudo().write({"run_id": run.id})
        )
        return self._reload()

    def _pipeline_run_is_mine(self, run):
        return self.run_id == run

    def _reload(self, message=None):
        """The user stays on the form, which reloads (and follows the pipeline live)."""
        return stay(message or self.env._("%(name)s started.", name=self.name))

    def _on_pipeline_end(self, run):
        """The pipeline ended: the deployment takes its result; the instance its release."""
        now = fields.Datetime.now()
        values = {"date_end": now, "duration": (now - (self.date_start or now)).total_seconds()}
        failed_step = run.failed_step_id
        if run.state == "done":
            values.update(state="done", message=run.message)
            if not self.dry_run:
                self.instance_id.sudo().release_id = self.release_id
        elif run.state == "rolled_back":
            values.update(
                state="rolled_back",
                message=run.message,
                rollback_reason=f"{failed_step.name}: {failed_step.message}"
                if failed_step
                else run.message,
            )
        else:
            values.update(state="cancelled" if run.state == "cancelled" else "failed",
                          message=run.message)  # fmt: skip
        self.sudo().write(values)
        self.env["devops.change"]._refresh_workspaces(self.release_id.workspace_id, read_git=False)

    # --- Promote -------------------------------------------------------------------------

    def promote(self, instance):
        """Deploy this (staging) deployment's release to ``instance`` (production); returns
        the new deployment's id."""
        self._ensure_one_existing()
        if self.state != "done" or self.dry_run:
            raise UserError(self.env._("Only a deployment that succeeded is promoted."))
        new_id = self.release_id.deploy(instance)
        self.browse(new_id).sudo().promoted_from_id = self
        return new_id

    def action_promote(self):
        """A new deployment of this release, to a production instance (the form to choose
        it), remembering where it comes from."""
        self._ensure_one_existing()
        if self.state != "done" or self.dry_run or self.environment != "staging":
            raise UserError(self.env._("Only a deployment that succeeded on staging is promoted."))
        if not self.env["devops.instance"].search_count(
            [("environment", "=", "production")], limit=1
        ):
            raise UserError(
                self.env._(
                    "No instance is in production yet: set Environment to production on the "
                    "form of the instance to deploy to, then promote."
                )
            )
        return {
            "type": "ir.actions.act_window",
            "res_model": "devops.deployment",
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "current",
            "name": self.env._("Promote %(version)s", version=self.release_id.version),
            "context": {
                "default_release_id": self.release_id.id,
                "default_promoted_from_id": self.id,
                "devops_production_only": True,
            },
        }

    def action_open_run(self):
        self._ensure_one_existing()
        if not self.run_id:
            return False
        return form_action(self.run_id, target="current")
