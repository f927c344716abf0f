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

    @api.constrains("devops_command_timeout")
    def _check_devops_command_timeout(self):
        for settings in self:
            if settings.devops_command_timeout < 1:
                raise ValidationError(
                    self.env._("The default command timeout must be at least 1 second.")
                )
