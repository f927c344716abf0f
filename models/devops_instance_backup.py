"""A backup of an instance's database, kept as a file on the instance's machine.

An instance made by *New Odoo instance* (its Odoo configuration file) is backed up by Odoo's
own ``odoo-bin db dump``: a zip holding the SQL dump, the filestore and a manifest of the
installed modules, checked after it is written (``release.DUMP_CHECK_SCRIPT``: CRCs,
contents).  Any other instance: ``pg_dump --format=custom`` (no filestore).
"""

import posixpath
import re

from odoo import fields, models
from odoo.exceptions import AccessError, UserError

from ..engine import deploy, release, service
from .utils import arg_text, form_action

_SIZE = re.compile(r"^size (\d+)$", re.MULTILINE)
MANAGER = "erplibre_devops.group_devops_manager"


class DevopsInstanceBackup(models.Model):
    _name = "devops.instance.backup"
    _inherit = ["devops.input.mixin"]
    _description = "DevOps Database Backup"
    _order = "id desc"
    _rec_name = "path"

    instance_id = fields.Many2one(
        "devops.instance", required=True, ondelete="cascade", index=True, readonly=True
    )
    machine_id = fields.Many2one(related="instance_id.machine_id")
    database = fields.Char(readonly=True)
    exec_id = fields.Many2one("devops.exec", string="Run", required=True, readonly=True)
    path = fields.Char(required=True, readonly=True)
    kind = fields.Selection(
        [("manual", "By hand"), ("scheduled", "Scheduled"), ("deploy", "Before a deployment")],
        default="manual",
        required=True,
        readonly=True,
        index=True,
    )
    with_filestore = fields.Boolean(
        string="Filestore", readonly=True, help="An Odoo zip: database and filestore."
    )
    date = fields.Datetime(related="exec_id.date_end", string="Date", store=True)
    state = fields.Selection(related="exec_id.state")
    removed = fields.Boolean(readonly=True, help="Its file was deleted (rotation).")
    size_mb = fields.Float(string="Size (MB)", compute="_compute_check", digits=(16, 2))
    verified = fields.Boolean(
        compute="_compute_check", help="The archive was read back: its CRCs, the SQL dump."
    )
    contents = fields.Char(compute="_compute_check", help="What the archive holds.")

    def _check_result(self):
        """The JSON the check printed (last line of the run's output), or {}."""
        if self.state != "done":
            return {}
        for line in reversed((self.exec_id.output or "").splitlines()):
            if line.startswith("{"):
                try:
                    return release.parse_dump_check(line)
                except release.ReleaseInputError:
                    return {}
        return {}

    def _compute_check(self):
        for backup in self:
            found = backup._check_result()
            if found:
                backup.size_mb = (found.get("size") or 0) / 2**20
                backup.verified = bool(found.get("ok"))
                backup.contents = self.env._(
                    "%(modules)s modules, %(files)s files, SQL %(sql).1f MB",
                    modules=found.get("modules", 0),
                    files=found.get("files", 0),
                    sql=(found.get("sql_bytes") or 0) / 2**20,
                )
                continue
            sizes = _SIZE.findall(backup.exec_id.output or "") if backup.state == "done" else []
            backup.size_mb = int(sizes[-1]) / 2**20 if sizes else 0.0
            backup.verified = False
            backup.contents = False

    # --- Restore -------------------------------------------------------------------------

    def _check_restorable(self):
        if not self.env.user.has_group(MANAGER):
            raise AccessError(self.env._("Only a DevOps manager restores a backup."))
        if not self.with_filestore or self.state != "done" or self.removed:
            raise UserError(
                self.env._("Only a finished Odoo backup (zip with its filestore) is restored.")
            )
        if not self.instance_id.config_path:
            raise UserError(self.env._("The instance has no Odoo configuration file."))

    def action_restore(self):
        """Replace the instance's database and filestore by this backup: the pipeline
        "Restore" (stop, load, start, health).  The form asks for confirmation first."""
        self._ensure_one_existing()
        self._check_restorable()
        pipeline = self.env.ref("erplibre_devops.pipeline_restore")
        run_id = pipeline._launch_for(self.instance_id, {"backup_id": self.id})
        return form_action(self.env["devops.pipeline.run"].browse(run_id), target="current")

    def restore_copy(self, database):
        """Load this backup into a new database ``database`` on the instance's PostgreSQL
        (refused when it exists); returns the run's id."""
        self._ensure_one_existing()
        self._check_restorable()
        database = arg_text(self.env, self.env._("The database"), database, max_length=63)
        problem = service.check_database(database) if database else self.env._("Name it.")
        if problem:
            raise UserError(problem)
        instance = self.instance_id.sudo()
        python, odoo_bin, config = instance._odoo_cli()
        argv = deploy.restore_argv(python, posixpath.dirname(odoo_bin), config, database,
                                   self.path, copy=True, replace=False)  # fmt: skip
        return instance._queue("restore", argv)

    def action_restore_copy(self):
        self._ensure_one_existing()
        stamp = fields.Datetime.now().strftime("%Y%m%d%H%M%S")
        name = f"{self.instance_id.database or 'restore'}-restored-{stamp}"[:63]
        self.restore_copy(name)
        return self.instance_id._stay(
            self.env._("Restoring the backup into the new database %(name)s…", name=name)
        )

    def _remove_files(self):
        """Delete these backups' files (one command per instance) and mark them removed."""
        for instance in self.instance_id:
            backups = self.filtered(lambda b, i=instance: b.instance_id == i and not b.removed)
            if backups:
                instance.sudo()._queue("backup_rotate", deploy.remove_argv(backups.mapped("path")))
                backups.sudo().write({"removed": True})
