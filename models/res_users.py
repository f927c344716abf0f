from odoo import fields, models


class ResUsers(models.Model):
    _inherit = "res.users"

    devops_alert_notify = fields.Boolean(
        string="DevOps alerts as notifications",
        help="Show the DevOps alerts (an instance down, back up…) as notifications in this "
        "web client. DevOps managers always get them.",
    )

    @property
    def SELF_READABLE_FIELDS(self):
        return [*super().SELF_READABLE_FIELDS, "devops_alert_notify"]

    @property
    def SELF_WRITEABLE_FIELDS(self):
        return [*super().SELF_WRITEABLE_FIELDS, "devops_alert_notify"]
