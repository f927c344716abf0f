"""The debug wizard: re-run a command, or start an instance in Odoo's debug mode, then jump
from each traceback to the failing source line (read from the workspace, local or over SSH)
and its git blame."""

import datetime
from html import escape

from odoo import Command, api, fields, models
from odoo.exceptions import UserError

from ..models.utils import form_action


class DevopsDebugWizardFrame(models.TransientModel):
    _name = "devops.debug.wizard.frame"
    _inherit = ["devops.input.mixin"]
    _description = "A frame of an error of the debug wizard, at its source"
    _order = "error_index, sequence, id"

    wizard_id = fields.Many2one("devops.debug.wizard", required=True, ondelete="cascade")
    error_index = fields.Integer(readonly=True, help="Which error of the run (0: the first).")
    sequence = fields.Integer(
        readonly=True, help="0: the user's own frame; then the others, most recent call first."
    )
    message = fields.Text(readonly=True)
    file = fields.Char(readonly=True)
    line = fields.Integer(readonly=True)
    function = fields.Char(readonly=True)
    user_frame = fields.Boolean(
        string="Your code",
        readonly=True,
        help="The deepest frame in the workspace that is not an installed library.",
    )
    in_workspace = fields.Boolean(readonly=True)
    library = fields.Boolean(
        readonly=True, help="An installed library (site-packages) or Python itself."
    )
    excerpt = fields.Text(readonly=True, help="The source around the failing line (marked ▶).")
    source_note = fields.Char(readonly=True, help="Why the source is not shown.")
    blame = fields.Char(readonly=True, help="Who last changed the failing line (git blame).")
    blame_note = fields.Char(readonly=True, help="Why there is no blame.")


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
    frame_ids = fields.One2many("devops.debug.wizard.frame", "wizard_id", string="Frames")
    analyzed = fields.Boolean(readonly=True)
    # Built from the frames with every value escaped; attributes are kept for <details open>.
    frames_html = fields.Html(
        string="Errors", compute="_compute_frames_html", sanitize_attributes=False
    )

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
        self.write({"exec_id": run_id, "frame_ids": [(5, 0, 0)], "analyzed": False})
        return self._reopen()

    def action_run_again(self):
        return self.action_run()

    def action_analyze(self):
        """The frames of each error of the run: the user's own frame first, then the others
        (most recent call first), each with its source, its blame or why there is none."""
        self._ensure_one_existing()
        if not self.exec_id:
            raise UserError(self.env._("Run something first."))
        lines = [Command.clear()]
        for index, item in enumerate(self.exec_id.source_context()):
            frames, user = item["frames"], item["user_frame"]
            order = [user] if user is not None else []
            order += [i for i in range(len(frames) - 1, -1, -1) if i != user]
            for sequence, position in enumerate(order):
                frame = frames[position]
                excerpt = "\n".join(
                    f"{'▶' if number == frame['line'] else ' '} {number:>5}  {text}"
                    for number, text in frame["excerpt"]
                )
                lines.append(
                    Command.create(
                        {
                            "error_index": index,
                            "sequence": sequence,
                            "message": item["message"],
                            "file": frame["file"],
                            "line": frame["line"],
                            "function": frame["function"] or False,
                            "user_frame": frame["user_frame"],
                            "in_workspace": frame["in_workspace"],
                            "library": frame["library"],
                            "excerpt": excerpt or frame["note"] or self.env._("(no source)"),
                            "source_note": frame["note"] if not excerpt else False,
                            "blame": _blame_text(frame["blame"]),
                            "blame_note": frame["blame_note"],
                        }
                    )
                )
        self.write({"frame_ids": lines, "analyzed": True})
        return self._reopen()

    @api.depends(
        "analyzed",
        "frame_ids.sequence",
        "frame_ids.excerpt",
        "frame_ids.source_note",
        "frame_ids.blame",
        "frame_ids.blame_note",
    )
    def _compute_frames_html(self):
        for wizard in self:
            wizard.frames_html = wizard._frames_html() if wizard.analyzed else False

    def _frames_html(self):
        """The errors as HTML: each error's message, then its frames as foldable blocks, the
        user's own frame first and open, every value escaped."""
        self.ensure_one()
        if not self.frame_ids:
            note = self.env._("No traceback or error with a file and a line in this output.")
            return f"<p class='o_devops_frames_none text-muted'>{escape(note)}</p>"
        parts = ["<div class='o_devops_frames'>"]
        by_error = {}
        for frame in self.frame_ids:
            by_error.setdefault(frame.error_index, []).append(frame)
        labels = {
            "user": self.env._("Your code"),
            "workspace": self.env._("Workspace"),
            "library": self.env._("Library"),
            "outside": self.env._("Outside the workspace"),
        }
        for frames in by_error.values():
            parts.append("<section class='o_devops_error mb-3'>")
            parts.append(f"<pre class='o_devops_error_message'>{escape(frames[0].message)}</pre>")
            for position, frame in enumerate(frames):
                if position == 1:
                    rest = self.env._("The call stack, most recent call first:")
                    parts.append(f"<div class='o_devops_frames_rest'>{escape(rest)}</div>")
                parts.append(_frame_html(frame, labels, self.env))
            parts.append("</section>")
        parts.append("</div>")
        return "".join(parts)


def _frame_html(frame, labels, env):
    if frame.user_frame:
        kind, badge = "user", "text-bg-primary"
    elif frame.library:
        kind, badge = "library", "text-bg-light"
    elif frame.in_workspace:
        kind, badge = "workspace", "text-bg-info"
    else:
        kind, badge = "outside", "text-bg-secondary"
    where = f"<code class='o_devops_frame_file'>{escape(frame.file or '')}</code>:"
    where += f"<strong class='o_devops_frame_line'>{frame.line}</strong>"
    if frame.function:
        where += " " + escape(env._("in")) + f" <code>{escape(frame.function)}</code>"
    body = []
    if frame.source_note:
        body.append(f"<p class='o_devops_frame_note'>{escape(frame.source_note)}</p>")
    else:
        body.append("<div class='o_devops_source'>")
        for row in (frame.excerpt or "").split("\n"):
            hit = " o_devops_source_hit" if row.startswith("▶") else ""
            body.append(f"<div class='o_devops_source_line{hit}'>{escape(row)}</div>")
        body.append("</div>")
    if frame.blame:
        body.append(f"<p class='o_devops_blame'>{escape(frame.blame)}</p>")
    else:
        note = frame.blame_note or env._("No blame.")
        body.append(f"<p class='o_devops_blame o_devops_blame_empty'>{escape(note)}</p>")
    opened = " open='open'" if frame.user_frame else ""
    return (
        f"<details class='o_devops_frame o_devops_frame_{kind}'{opened}>"
        f"<summary><span class='badge {badge} me-2'>{escape(labels[kind])}</span>{where}</summary>"
        f"{''.join(body)}</details>"
    )


def _blame_text(blame):
    if not blame or not blame.get("sha"):
        return False
    when = datetime.datetime.fromtimestamp(blame.get("time", 0), datetime.UTC)
    return (
        f"{blame.get('author', '?')} <{blame.get('email', '')}>, {when:%Y-%m-%d}, "
        f"{blame['sha'][:10]} {blame.get('summary', '')}"
    )
