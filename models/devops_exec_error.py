from odoo import fields, models


class DevopsExecError(models.Model):
    """An error found in a run's output: a Python traceback, an Odoo ERROR line, a tool error."""

    _name = "devops.exec.error"
    _inherit = ["devops.input.mixin"]
    _description = "DevOps Execution Error"
    _order = "exec_id desc, id"
    _rec_name = "message"

    exec_id = fields.Many2one(
        "devops.exec", string="Run", required=True, ondelete="cascade", index=True
    )
    machine_id = fields.Many2one(related="exec_id.machine_id", store=True)
    date = fields.Datetime(related="exec_id.date_start", store=True, string="Date")
    error_type = fields.Selection(
        [("traceback", "Python traceback"), ("odoo", "Odoo log"), ("tool", "Tool error")],
        string="Type",
        required=True,
    )
    message = fields.Text(required=True)
    file = fields.Char()
    line = fields.Integer(aggregator=None)
    frames = fields.Json(
        readonly=True,
        help="A traceback's frames, outermost first: [[file, line, function], …] (the last "
        "one is the error's file and line).",
    )
    count = fields.Integer(default=1, help="How many times the run printed it.")
    fingerprint = fields.Char(
        index=True, help="The same error in other runs has the same fingerprint."
    )

    def _frame_list(self):
        """[(file, line, function)], outermost first: the traceback's frames, else the
        error's own location (an error recorded before frames were kept, a tool's error)."""
        self.ensure_one()
        frames = [
            (frame[0], frame[1], frame[2] if len(frame) > 2 else "")
            for frame in self.frames or []
            if isinstance(frame, list | tuple)
            and len(frame) >= 2
            and isinstance(frame[0], str)
            and isinstance(frame[1], int)
        ]
        if not frames and self.file and self.line > 0:
            frames = [(self.file, self.line, "")]
        return frames
