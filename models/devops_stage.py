from odoo import fields, models

from .utils import count_by, open_action


class DevopsStage(models.Model):
    """One of the eight DevOps stages; features of each stage hang off its record."""

    _name = "devops.stage"
    _inherit = ["devops.input.mixin"]
    _description = "DevOps Stage"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    code = fields.Char(
        required=True,
        help="Technical identifier used by automations, such as 'deploy'.",
    )
    sequence = fields.Integer(default=10)
    summary = fields.Char(translate=True, help="The stage in a few words.")
    description = fields.Text(translate=True, help="What this stage covers.")
    active = fields.Boolean(default=True)

    _sql_constraints = [
        ("code_unique", "unique(code)", "Another stage already uses this code."),
    ]

    exec_count = fields.Integer(string="Runs", compute="_compute_exec_count")

    def _compute_exec_count(self):
        counts = count_by(self, "devops.exec", "stage_id")
        for stage in self:
            stage.exec_count = counts.get(stage.id, 0)

    def action_view_execs(self):
        self._ensure_one_existing()
        return open_action(
            self.env,
            "erplibre_devops.action_exec",
            [("stage_id", "=", self.id)],
            {"default_stage_id": self.id},
        )
