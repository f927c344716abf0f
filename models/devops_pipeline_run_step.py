from odoo import fields, models

from .devops_pipeline_actions import ACTIONS, CONDITIONS
from .utils import form_action


class DevopsPipelineRunStep(models.Model):
    """A step of a pipeline run: what it ran, how long, how it ended."""

    _name = "devops.pipeline.run.step"
    _inherit = ["devops.input.mixin"]
    _description = "DevOps Pipeline Run Step"
    _order = "run_id, rollback, sequence, id"

    run_id = fields.Many2one(
        "devops.pipeline.run",
        string="Pipeline run",
        required=True,
        ondelete="cascade",
        index=True,
        readonly=True,
    )
    step_id = fields.Many2one("devops.pipeline.step", readonly=True, ondelete="set null")
    sequence = fields.Integer(readonly=True)
    name = fields.Char(required=True, readonly=True)
    kind = fields.Selection(
        [("command", "Command"), ("action", "Built-in action")], required=True, readonly=True
    )
    command = fields.Text(readonly=True, help="The command, its placeholders filled.")
    action = fields.Selection(
        selection=lambda self: [(k, v[0]) for k, v in ACTIONS.items()], readonly=True
    )
    timeout = fields.Integer(string="Timeout (s)", readonly=True, aggregator=None)
    on_failure = fields.Selection(
        [("stop", "Stop"), ("continue", "Continue"), ("rollback", "Roll back")], readonly=True
    )
    condition = fields.Selection(
        selection=lambda self: [(k, v) for k, v in CONDITIONS.items()], readonly=True
    )
    rollback = fields.Boolean(readonly=True)
    state = fields.Selection(
        [
            ("pending", "Pending"),
            ("running", "Running"),
            ("waiting", "Waiting"),
            ("done", "Done"),
            ("failed", "Failed"),
            ("skipped", "Skipped"),
            ("cancelled", "Cancelled"),
        ],
        required=True,
        default="pending",
        readonly=True,
    )
    date_start = fields.Datetime(string="Started", readonly=True)
    date_end = fields.Datetime(string="Ended", readonly=True)
    duration = fields.Float(string="Duration (s)", readonly=True)
    message = fields.Text(readonly=True)
    exec_id = fields.Many2one("devops.exec", string="Command run", readonly=True, index=True)
    wait_deadline = fields.Datetime(readonly=True)
    # Read as the user, never as superuser (a run the user may not read shows nothing).
    exec_state = fields.Selection(related="exec_id.state", string="Run state", compute_sudo=False)

    def _set(self, state, message=None):
        now = fields.Datetime.now()
        for step in self:
            values = {"state": state, "date_end": now}
            if message is not None:
                values["message"] = message or False
            if step.exec_id.duration:  # its command's, exact
                values["duration"] = step.exec_id.duration
            elif step.date_start:
                values["duration"] = (now - step.date_start).total_seconds()
            step.write(values)

    # --- The runner's generic owner hook (devops.exec res_model/res_id) ---------------------

    def _on_exec_done(self, run):
        self.ensure_one()
        if self.exec_id == run:
            self.run_id._step_exec_done(self, run)

    def _on_exec_hook_failed(self, _run, error):
        self.run_id._step_hook_failed(self, error)

    def action_open_exec(self):
        """Open the step's run of the execution log (its live output)."""
        self._ensure_one_existing()
        if not self.exec_id:
            return False
        return form_action(self.exec_id, target="current")
