from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..engine import validation


class DevopsInstance(models.Model):
    """A server (an Odoo instance first of all) run from a workspace."""

    _name = "devops.instance"
    _description = "DevOps Instance"
    _order = "name, id"

    name = fields.Char(required=True)
    workspace_id = fields.Many2one("devops.workspace", required=True, ondelete="restrict")
    machine_id = fields.Many2one(
        related="workspace_id.machine_id", string="Machine", store=True, index=True
    )
    port = fields.Integer(default=8069, required=True, help="HTTP port, from 1 to 65535.")
    database = fields.Char(help="Name of the instance's PostgreSQL database.")
    url = fields.Char(
        string="URL",
        compute="_compute_url",
        store=True,
        readonly=False,
        help="Where the instance answers; by default its machine's host and its port.",
    )
    state = fields.Selection(
        [
            ("stopped", "Stopped"),
            ("starting", "Starting"),
            ("running", "Running"),
            ("degraded", "Degraded"),
            ("down", "Down"),
        ],
        default="stopped",
        required=True,
        readonly=True,
        copy=False,
    )
    active = fields.Boolean(default=True)

    _sql_constraints = [
        ("name_unique", "unique(name)", "Another instance already has this name."),
    ]

    @api.depends("machine_id.kind", "machine_id.host", "port")
    def _compute_url(self):
        for instance in self:
            machine = instance.machine_id
            host = machine.host if machine.kind == "ssh" and machine.host else "localhost"
            if ":" in host and not host.startswith("["):
                host = f"[{host}]"
            instance.url = f"http://{host}:{instance.port}" if instance.port else False

    @api.constrains("port")
    def _check_port(self):
        for instance in self:
            problem = validation.check_port(instance.port)
            if problem:
                raise ValidationError(self.env._(problem.template, **problem.params))

    @api.constrains("url")
    def _check_url(self):
        for instance in self:
            if instance.url and not instance.url.startswith(("http://", "https://")):
                raise ValidationError(
                    self.env._(
                        "The URL '%(url)s' must start with http:// or https://.",
                        url=instance.url,
                    )
                )
