from odoo import api, fields, models

LOCAL = "erplibre_devops.group_devops_local_exec"


class DevopsExecWizard(models.TransientModel):
    """Run a command on a machine, in a workspace's directory when one is chosen."""

    _name = "devops.exec.wizard"
    _inherit = ["devops.input.mixin"]
    _description = "Run a command"

    machine_id = fields.Many2one(
        "devops.machine",
        required=True,
        default=lambda self: self._default_machine(),
        domain="[] if may_run_local else [('kind', '=', 'ssh')]",
    )
    may_run_local = fields.Boolean(
        compute="_compute_may_run_local",
        default=lambda self: self.env.user.has_group(LOCAL),
        help="Whether the user may run commands of their own on the Odoo server's machine.",
    )
    workspace_id = fields.Many2one("devops.workspace", domain="[('machine_id', '=', machine_id)]")
    command = fields.Text(
        required=True,
        help="Run by /bin/sh -c on the machine, in the workspace's directory when one is set.",
    )
    timeout = fields.Integer(
        string="Timeout (s)",
        default=lambda self: int(
            self.env["ir.config_parameter"].sudo().get_param("erplibre_devops.command_timeout", 600)
        ),
    )
    stage_id = fields.Many2one("devops.stage")
    shared = fields.Boolean(string="Visible to every DevOps user")

    @api.model
    def _default_machine(self):
        if self.env.user.has_group(LOCAL):
            return self.env.ref("erplibre_devops.machine_local", False)
        return self.env["devops.machine"].search([("kind", "=", "ssh")], limit=1)

    def _compute_may_run_local(self):
        for wizard in self:
            wizard.may_run_local = self.env.user.has_group(LOCAL)

    @api.onchange("machine_id")
    def _onchange_machine_id(self):
        if self.workspace_id.machine_id != self.machine_id:
            self.workspace_id = False

    def action_run(self):
        self._ensure_one_existing()
        target = self.workspace_id or self.machine_id
        run_id = target.with_context(devops_exec_shared=self.shared).exec_command(
            self.command, timeout=self.timeout, stage=self.stage_id.id or None
        )
        return self.env["devops.exec"]._action_open(run_id)
