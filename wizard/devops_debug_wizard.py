"""The debug wizard: re-run a command, or start an instance in Odoo's debug mode, then jump
from each traceback to the failing source line (read from the workspace, local or over SSH)
and its git blame."""

import datetime

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..models.utils import form_action


class DevopsDebugWizardFrame(models.TransientModel):
    _name = "devops.debug.wizard.frame"
    _inherit = ["devops.input.mixin"]
    _description = "An error of the debug wizard, at its source"
    _order = "id"

    wizard_id = fields.Many2one("devops.debug.wizard", required=True, ondelete="cascade")
    message = fields.Text(readonly=True)
    file = fields.Char(readonly=True)
    line = fields.Integer(readonly=True)
    excerpt = fields.Text(readonly=True, help="The source around the failing line (marked ▶).")
    blame = fields.Char(readonly=True, help="Who last changed the failing line (git blame).")


class DevopsDebugWizard(models.TransientModel):
    _name = "devops.debug.wizard"
    _inherit = ["devops.input.mixin"]
    _description = "Debug"

    workspace_id = fields.Many2one("devops.workspace")
    instance_id = fields.Many2one("devops.instance", domain="[('workspace_id', '=', workspace_id)]")
    mode = fields.Selection(
        [("command", "Run a command"), ("instance", "Start the instance in debug mode")],
        required=True,
        default="command",
    )
    command = fields.Text(help="Run by /bin/sh -c in the workspace's directory.")
    test_tags = fields.Char(help="Odoo --test-tags to run in debug mode, e.g. /my_module")
    exec_id = fields.Many2one("devops.exec", string="Run", readonly=True)
    # Read as the user, never as superuser: a run the user may not read shows nothing.
    state = fields.Selection(related="exec_id.state", compute_sudo=False)
    output = fields.Text(related="exec_id.output", compute_sudo=False)
    frame_ids = fields.One2many("devops.debug.wizard.frame", "wizard_id", string="Errors")

    @api.model_create_multi
    def create(self, vals_list):
        wizards = super().create(vals_list)
        wizards._check_run_access()
        return wizards

    def write(self, vals):
        result = super().write(vals)
        if "exec_id" in vals:
            self._check_run_access()
        return result

    def _check_run_access(self):
        """A wizard only shows runs its user may read (not another user's private run)."""
        for wizard in self:
            if wizard.exec_id:
                wizard.exec_id.check_access("read")

    def _reopen(self):
        name = self.workspace_id.name or self.exec_id.machine_id.name or ""
        return form_action(self, self.env._("Debug: %(name)s", name=name))

    def action_run(self):
        self._ensure_one_existing()
        if not self.workspace_id:
            raise UserError(self.env._("Choose the workspace to run in."))
        if self.mode == "instance":
            if not self.instance_id:
                raise UserError(self.env._("Choose the instance to start in debug mode."))
            run_id = self.instance_id.debug_start(self.test_tags or None)
        else:
            if not (self.command or "").strip():
                raise UserError(self.env._("Enter the command to debug."))
            run_id = self.workspace_id.debug_command(self.command)
        self.write({"exec_id": run_id, "frame_ids": [(5, 0, 0)]})
        return self._reopen()

    def action_run_again(self):
        return self.action_run()

    def action_analyze(self):
        """One frame per error of the run: its message, file, line, source and blame."""
        self._ensure_one_existing()
        if not self.exec_id:
            raise UserError(self.env._("Run something first."))
        frames = [(5, 0, 0)]
        for item in self.exec_id.source_context():
            excerpt = "\n".join(
                f"{'▶' if number == item['line'] else ' '} {number:>5}  {text}"
                for number, text in item["excerpt"]
            )
            frames.append(
                (
                    0,
                    0,
                    {
                        "message": item["message"],
                        "file": item["file"],
                        "line": item["line"],
                        "excerpt": excerpt or item["note"] or self.env._("(no source)"),
                        "blame": _blame_text(item["blame"]),
                    },
                )
            )
        self.frame_ids = frames
        return self._reopen()


def _blame_text(blame):
    if not blame or not blame.get("sha"):
        return False
    when = datetime.datetime.fromtimestamp(blame.get("time", 0), datetime.UTC)
    return (
        f"{blame.get('author', '?')} <{blame.get('email', '')}>, {when:%Y-%m-%d}, "
        f"{blame['sha'][:10]} {blame.get('summary', '')}"
    )
