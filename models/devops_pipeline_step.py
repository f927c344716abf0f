from odoo import api, fields, models
from odoo.exceptions import ValidationError

from .devops_pipeline_actions import ACTIONS, CONDITIONS


class DevopsPipelineStep(models.Model):
    """A step of a pipeline: a shell command, or a built-in action."""

    _name = "devops.pipeline.step"
    _inherit = ["devops.input.mixin"]
    _description = "DevOps Pipeline Step"
    _order = "rollback, sequence, id"

    pipeline_id = fields.Many2one("devops.pipeline", required=True, ondelete="cascade", index=True)
    sequence = fields.Integer(default=10)
    name = fields.Char(required=True, translate=True)
    kind = fields.Selection(
        [("command", "Command"), ("action", "Built-in action")], required=True, default="command"
    )
    command = fields.Text(
        help="A shell line run by /bin/sh -c in the target's folder on its machine. "
        "{placeholders} take the run's parameters ({ref}, {modules}…) and the target's "
        "fields ({port}, {database}, {workspace_path}…), each quoted for the shell.",
    )
    action = fields.Selection(selection=lambda self: [(k, v[0]) for k, v in ACTIONS.items()])
    timeout = fields.Integer(
        string="Timeout (s)", default=600, help="For the step's command: from 1 s to 7 days."
    )
    on_failure = fields.Selection(
        [
            ("stop", "Stop the pipeline"),
            ("continue", "Continue with the next step"),
            ("rollback", "Roll back (run the rollback steps)"),
        ],
        required=True,
        default="stop",
    )
    condition = fields.Selection(
        selection=lambda self: [(k, v) for k, v in CONDITIONS.items()],
        help="Run the step only when this is true; empty: always.",
    )
    rollback = fields.Boolean(
        help="A step of the rollback sequence: run (in order) when a step that says 'Roll "
        "back' fails or is cancelled, or by the Roll back button; never otherwise.",
    )

    @api.constrains("kind", "command", "action", "timeout")
    def _check_step(self):
        for step in self:
            if step.kind == "command" and not (step.command or "").strip():
                raise ValidationError(
                    self.env._("The step %(name)s needs a command.", name=step.name)
                )
            if step.kind == "action" and not step.action:
                raise ValidationError(
                    self.env._("The step %(name)s needs an action.", name=step.name)
                )
            if not 1 <= step.timeout <= 7 * 24 * 3600:
                raise ValidationError(self.env._("A step's timeout is from 1 second to 7 days."))
