"""Release and Deploy on an instance: its backups (by hand, scheduled with a rotation policy,
before a deployment), *Refresh staging* from production, and its deployments."""

import datetime

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

from ..engine import deploy, release, service
from .utils import count_by, form_action, open_action

MANAGER = "erplibre_devops.group_devops_manager"


class DevopsInstance(models.Model):
    _inherit = "devops.instance"

    deployment_ids = fields.One2many("devops.deployment", "instance_id", string="Deployments")
    deployment_count = fields.Integer(
        string="Deployment count", compute="_compute_deployment_count"
    )
    refresh_source_id = fields.Many2one(
        "devops.instance",
        string="Refreshed from",
        domain=[("environment", "=", "production")],
        help="Refresh staging copies this production instance's database and filestore here, "
        "neutralised (crons, outgoing mail servers, payment providers off).",
    )
    backup_schedule = fields.Selection(
        [("none", "None"), ("daily", "Daily")],
        string="Scheduled backups",
        default="none",
        required=True,
        help='Daily: the hourly cron "DevOps: scheduled backups and their rotation" backs '
        "the database up once a day (23 hours after the last scheduled backup), then deletes "
        "the scheduled backups the rotation no longer keeps.",
    )
    backup_keep_daily = fields.Integer(string="Keep daily", default=7)
    backup_keep_weekly = fields.Integer(string="Keep weekly", default=4)
    backup_keep_monthly = fields.Integer(string="Keep monthly", default=3)

    _sql_constraints = [
        (
            "backup_keep_positive",
            "CHECK(backup_keep_daily >= 0 AND backup_keep_weekly >= 0 "
            "AND backup_keep_monthly >= 0)",
            "Backups kept are counted from 0 up.",
        ),
    ]

    def _compute_deployment_count(self):
        counts = count_by(self, "devops.deployment", "instance_id")
        for instance in self:
            instance.deployment_count = counts.get(instance.id, 0)

    def action_view_deployments(self):
        self._ensure_one_existing()
        return open_action(
            self.env, "erplibre_devops.action_deployment", [("instance_id", "=", self.id)],
            {"default_instance_id": self.id},
        )  # fmt: skip

    # --- Odoo's database manager ---------------------------------------------------------

    def _odoo_cli(self):
        """(python, odoo-bin, configuration file) to run Odoo's commands for this instance."""
        self.ensure_one()
        instance = self.sudo()
        workspace = instance.workspace_id
        build = instance.build_id
        if not instance.config_path or not workspace.odoo_path:
            raise UserError(
                self.env._(
                    "%(name)s has no Odoo configuration file made by the app: make it with New "
                    "Odoo instance.",
                    name=self.name,
                )
            )
        python = build._python_of() if build else "python3"
        return python, f"{workspace.odoo_path}/odoo-bin", instance.config_path

    def _backup_path(self, kind):
        stamp = fields.Datetime.now().strftime("%Y%m%d-%H%M%S")
        folder = f"{self.workspace_id.sudo().path.rstrip('/')}/{service.STATE_DIR}/backups"
        zipped = bool(self.config_path)
        return f"{folder}/{self.database}-{stamp}-{kind}.{'zip' if zipped else 'dump'}"

    def _backup_argv(self, kind):
        """(path, argv) of a backup of the database now."""
        self.ensure_one()
        if not self.database:
            raise UserError(self.env._("Set the database of %(name)s first.", name=self.name))
        path = self._backup_path(kind)
        if self.config_path:
            python, odoo_bin, config = self._odoo_cli()
            return path, deploy.backup_argv(python, odoo_bin, config, self.database, path)
        return path, service.backup_argv(self.database, path)

    def _backup_record(self, path, kind, exec_id):
        return (
            self.env["devops.instance.backup"]
            .sudo()
            .create(
                {"instance_id": self.id, "exec_id": exec_id, "path": path, "kind": kind,
                 "database": self.database, "with_filestore": bool(self.config_path)}
            )
        )  # fmt: skip

    def _backup(self, kind="manual"):
        """Queue a backup of the database; returns the devops.instance.backup."""
        path, argv = self._backup_argv(kind)
        return self._backup_record(path, kind, self._queue("backup", argv))

    def action_backup(self):
        """Back up the database (with its filestore, for an instance made by the app)."""
        self._ensure_one_existing()
        self._backup("manual")
        return self._stay(self.env._("Backing up the database of %(name)s…", name=self.name))

    @api.model
    def _cron_backup(self):
        """Daily backups of the instances that ask for them; then each one's rotation."""
        instances = self.search([("backup_schedule", "=", "daily"), ("database", "!=", False)])
        now = fields.Datetime.now()
        for instance in instances:
            last = instance.backup_ids.filtered(lambda b: b.kind == "scheduled")[:1]
            if not last or (last.date or last.create_date) <= now - datetime.timedelta(hours=23):
                instance._backup("scheduled")
            instance._rotate_backups()
        self.env["ir.cron"]._notify_progress(done=len(instances), remaining=0)

    def _rotate_backups(self):
        """Delete the scheduled backups the policy no longer keeps (daily, weekly, monthly:
        ``release.rotation_keep``); a failed one is deleted once a newer one succeeded."""
        scheduled = self.backup_ids.filtered(lambda b: b.kind == "scheduled" and not b.removed)
        good = scheduled.filtered(lambda b: b.state == "done" and b.date)
        keep = release.rotation_keep(
            [(b.id, b.date) for b in good],
            daily=self.backup_keep_daily,
            weekly=self.backup_keep_weekly,
            monthly=self.backup_keep_monthly,
        )
        newest = max(good.mapped("date"), default=None)
        failed = scheduled.filtered(
            lambda b: (
                b.state in ("failed", "timeout", "cancelled", "interrupted")
                and newest
                and (b.date or b.create_date) < newest
            )
        )
        (good.filtered(lambda b: b.id not in keep) | failed)._remove_files()

    # --- Staging ---------------------------------------------------------------------------

    def refresh_staging(self, source=None, release_id=None):
        """Copy ``source`` (a production instance; default: *Refreshed from*) into this
        staging instance: stop, copy the database and filestore neutralised, start, health;
        then deploy the release ``release_id`` on it when given.  Returns the pipeline
        run's id.  Managers only; both instances on one machine."""
        self._ensure_one_existing()
        if not self.env.user.has_group(MANAGER):
            raise AccessError(self.env._("Only a DevOps manager refreshes a staging instance."))
        for name, value in (("source", source), ("release_id", release_id)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise UserError(
                    self.env._("%(name)s is a record id, not %(value)r.", name=name, value=value)
                )
        source = self.browse(source) if source else self.refresh_source_id
        if not source:
            raise UserError(self.env._("Choose the production instance to copy (Refreshed from)."))
        source._ensure_one_existing()
        if self.environment != "staging":
            raise UserError(self.env._("Only a staging instance is refreshed from production."))
        if source == self or source.environment != "production":
            raise UserError(self.env._("Refresh staging copies a production instance."))
        if source.machine_id != self.machine_id:
            raise UserError(
                self.env._(
                    "%(source)s runs on %(machine)s: a staging instance is refreshed from a "
                    "production instance of its own machine.",
                    source=source.name,
                    machine=source.machine_id.name,
                )
            )
        source._odoo_cli()
        self._odoo_cli()
        params = {"source_instance_id": source.id, "refresh_instance_id": self.id}
        if release_id:
            rel = self.env["devops.release"].browse(release_id)
            rel._ensure_one_existing()
            params["deploy_release_id"] = rel.id
        pipeline = self.env.ref("erplibre_devops.pipeline_refresh_staging")
        return pipeline._launch_for(self, params)

    def _pipeline_run_is_mine(self, run):
        """A refresh of this instance, launched by a manager."""
        return run.pipeline_id.code == "refresh_staging" and run.user_id.has_group(MANAGER)

    def action_refresh_staging(self):
        self._ensure_one_existing()
        run_id = self.refresh_staging()
        return form_action(self.env["devops.pipeline.run"].browse(run_id), target="current")

    def _on_refresh_end(self, run):
        """The refresh ended: deploy the release asked for, as the one who asked."""
        release_id = run._param("deploy_release_id")
        if run.state != "done" or not isinstance(release_id, int) or isinstance(release_id, bool):
            return
        rel = self.env["devops.release"].with_user(run.user_id).browse(release_id).exists()
        if rel:
            rel.deploy(self.id)
