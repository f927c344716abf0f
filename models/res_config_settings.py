from odoo import api, fields, models
from odoo.exceptions import ValidationError


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    devops_command_timeout = fields.Integer(
        string="Default command timeout (seconds)",
        config_parameter="erplibre_devops.command_timeout",
        default=600,
        help="How long a command may run before it is stopped, unless its run says otherwise.",
    )
    devops_runner_workers = fields.Integer(
        string="Parallel runs",
        config_parameter="erplibre_devops.runner_workers",
        default=4,
        help="How many commands one Odoo server runs at the same time.",
    )
    devops_exec_retention_days = fields.Integer(
        string="Keep runs (days)",
        config_parameter="erplibre_devops.exec_retention_days",
        default=90,
        help="Finished runs older than this are deleted every day; 0 keeps them forever.",
    )
    devops_ssh_timeout = fields.Integer(
        string="SSH connection timeout (seconds)",
        config_parameter="erplibre_devops.ssh_timeout",
        default=10,
    )

    @api.constrains(
        "devops_command_timeout",
        "devops_runner_workers",
        "devops_exec_retention_days",
        "devops_ssh_timeout",
    )
    def _check_devops_settings(self):
        for settings in self:
            if settings.devops_command_timeout < 1:
                raise ValidationError(
                    self.env._("The default command timeout must be at least 1 second.")
                )
            if not 1 <= settings.devops_runner_workers <= 64:
                raise ValidationError(self.env._("Parallel runs must be from 1 to 64."))
            if settings.devops_exec_retention_days < 0:
                raise ValidationError(self.env._("Keep runs: use 0 (forever) or more days."))
            if not 1 <= settings.devops_ssh_timeout <= 300:
                raise ValidationError(
                    self.env._("The SSH connection timeout must be from 1 to 300 seconds.")
                )
