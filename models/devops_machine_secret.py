from odoo import api, fields, models


class DevopsMachineSecret(models.Model):
    """A machine's SSH private key or password.

    Nobody reads this model through the UI or RPC: its only access row grants nothing, and the
    machine's write-only fields (``ssh_private_key``, ``ssh_password``) store into it with
    sudo.  Only the execution engine reads it, server-side, to open a connection.
    """

    _name = "devops.machine.secret"
    _description = "DevOps Machine Secret"
    _log_access = False

    machine_id = fields.Many2one("devops.machine", required=True, ondelete="cascade", index=True)
    kind = fields.Selection(
        [("ssh_private_key", "SSH private key"), ("ssh_password", "SSH password")],
        required=True,
    )
    value = fields.Text(required=True)

    _sql_constraints = [
        ("machine_kind_unique", "unique(machine_id, kind)", "A machine has one secret of a kind."),
    ]

    @api.model
    def _values(self, machine):
        """{kind: value} of ``machine`` (call with sudo, from server code only)."""
        secrets = self.search([("machine_id", "=", machine.id)])
        return {secret.kind: secret.value for secret in secrets}

    @api.model
    def _store(self, machine, kind, value):
        secret = self.search([("machine_id", "=", machine.id), ("kind", "=", kind)])
        if not value:
            secret.unlink()
        elif secret:
            secret.value = value
        else:
            self.create({"machine_id": machine.id, "kind": kind, "value": value})
