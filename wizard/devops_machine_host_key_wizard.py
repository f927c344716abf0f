from odoo import api, fields, models
from odoo.exceptions import UserError


class DevopsMachineHostKeyWizard(models.TransientModel):
    """Accept an SSH server's host key: the dialog shows the fingerprint the server offered
    when it opened, and accepts exactly that one (``devops.machine.action_accept_host_key``
    refuses it when the server offered another key since)."""

    _name = "devops.machine.host.key.wizard"
    _inherit = ["devops.input.mixin"]
    _description = "Accept a host key"

    machine_id = fields.Many2one("devops.machine", required=True, readonly=True)
    host = fields.Char(related="machine_id.host")
    port = fields.Integer(related="machine_id.port")
    fingerprint = fields.Char(readonly=True, help="The fingerprint this dialog accepts.")
    key_type = fields.Char(readonly=True)

    @api.model_create_multi
    def create(self, vals_list):
        """What the dialog shows is what the server offered when it opened, whatever the
        caller sent."""
        self.check_access("create")
        for vals in vals_list:
            machine = self.env["devops.machine"].browse(vals.get("machine_id"))
            if not isinstance(vals.get("machine_id"), int) or not machine.exists():
                raise UserError(self.env._("Choose the machine whose host key to accept."))
            machine.check_access("read")
            if not machine.host_key_offered:
                raise UserError(self.env._("No host key is waiting: test the connection first."))
            vals["fingerprint"] = machine.host_key_offered_fingerprint
            vals["key_type"] = machine.host_key_offered.split(" ", 1)[0]
        return super().create(vals_list)

    def action_accept(self):
        """Pin the key whose fingerprint this dialog shows, then test the connection."""
        self._ensure_one_existing()
        return self.machine_id.action_accept_host_key(self.fingerprint)
