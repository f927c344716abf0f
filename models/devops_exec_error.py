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
    count = fields.Integer(default=1, help="How many times the run printed it.")
    fingerprint = fields.Char(
        index=True, help="The same error in other runs has the same fingerprint."
    )
