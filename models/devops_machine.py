from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..engine import validation


class DevopsMachine(models.Model):
    """A computer that runs workspaces and instances: this one, or one reached over SSH."""

    _name = "devops.machine"
    _description = "DevOps Machine"
    _order = "name, id"

    name = fields.Char(required=True)
    kind = fields.Selection(
        [("local", "This machine"), ("ssh", "SSH")],
        required=True,
        default="ssh",
        help="'This machine' runs commands as the Odoo server's own user; "
        "'SSH' runs them on a remote host through SSH.",
    )
    host = fields.Char(help="Host name or IP address of an SSH machine.")
    port = fields.Integer(default=22, help="SSH port, from 1 to 65535.")
    ssh_user = fields.Char(string="SSH User", help="Login on the remote host.")
    active = fields.Boolean(default=True)
    workspace_ids = fields.One2many("devops.workspace", "machine_id", string="Workspaces")
    workspace_count = fields.Integer(compute="_compute_workspace_count")

    _sql_constraints = [
        ("name_unique", "unique(name)", "Another machine already has this name."),
    ]

    @api.depends("workspace_ids")
    def _compute_workspace_count(self):
        groups = self.env["devops.workspace"]._read_group(
            [("machine_id", "in", self.ids)], ["machine_id"], ["__count"]
        )
        counts = {machine.id: count for machine, count in groups}
        for machine in self:
            machine.workspace_count = counts.get(machine.id, 0)

    @api.constrains("kind", "host", "port", "ssh_user")
    def _check_connection(self):
        for machine in self:
            if machine.kind == "ssh" and not (machine.host or "").strip():
                raise ValidationError(
                    self.env._(
                        "The SSH machine '%(name)s' needs a host: "
                        "enter its host name or IP address.",
                        name=machine.name,
                    )
                )
            problem = (
                (machine.kind == "ssh" and validation.check_host(machine.host))
                or validation.check_port(machine.port)
                or validation.check_user_name(machine.ssh_user)
            )
            if problem:
                raise ValidationError(self.env._(problem.template, **problem.params))

    def action_view_workspaces(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("erplibre_devops.action_workspace")
        action["domain"] = [("machine_id", "=", self.id)]
        action["context"] = {"default_machine_id": self.id}
        return action
