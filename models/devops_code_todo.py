from odoo import fields, models


class DevopsCodeTodo(models.Model):
    """A TODO, FIXME, XXX or HACK comment of a workspace, with who wrote it and when."""

    _name = "devops.code.todo"
    _inherit = ["devops.input.mixin"]
    _description = "DevOps Code TODO"
    _order = "workspace_id, file, line"
    _rec_name = "text"

    workspace_id = fields.Many2one(
        "devops.workspace", required=True, ondelete="cascade", index=True, readonly=True
    )
    file = fields.Char(required=True, readonly=True)
    line = fields.Integer(required=True, readonly=True, aggregator=None)
    kind = fields.Selection(
        [("TODO", "TODO"), ("FIXME", "FIXME"), ("XXX", "XXX"), ("HACK", "HACK")],
        required=True,
        readonly=True,
    )
    text = fields.Char(readonly=True)
    author = fields.Char(readonly=True, help="From git blame.")
    date = fields.Datetime(readonly=True, help="When the line was written (git blame).")
