import re

from odoo import fields, models

_SIZE = re.compile(r"^size (\d+)$", re.MULTILINE)


class DevopsInstanceBackup(models.Model):
    """A pg_dump of an instance's database, kept as a file on the instance's machine."""

    _name = "devops.instance.backup"
    _inherit = ["devops.input.mixin"]
    _description = "DevOps Database Backup"
    _order = "id desc"
    _rec_name = "path"

    instance_id = fields.Many2one(
        "devops.instance", required=True, ondelete="cascade", index=True, readonly=True
    )
    machine_id = fields.Many2one(related="instance_id.machine_id")
    database = fields.Char(related="instance_id.database")
    exec_id = fields.Many2one("devops.exec", string="Run", required=True, readonly=True)
    path = fields.Char(required=True, readonly=True)
    date = fields.Datetime(related="exec_id.date_end", string="Date")
    state = fields.Selection(related="exec_id.state")
    size_mb = fields.Float(string="Size (MB)", compute="_compute_size", digits=(16, 2))

    def _compute_size(self):
        for backup in self:
            found = _SIZE.findall(backup.exec_id.output or "") if backup.state == "done" else []
            backup.size_mb = int(found[-1]) / 2**20 if found else 0.0
