from odoo import fields, models
from odoo.exceptions import AccessError, UserError

BUMPS = [
    ("none", "None"),
    ("patch", "Patch"),
    ("minor", "Minor"),
    ("major", "Major"),
]


class DevopsReleaseModule(models.Model):
    """One module of a release: its version before (the previous release) and now, whether
    its files changed, and the version bump the change calls for."""

    _name = "devops.release.module"
    _description = "DevOps Release Module"
    _order = "changed desc, name"

    release_id = fields.Many2one("devops.release", required=True, ondelete="cascade", index=True)
    name = fields.Char(string="Module", required=True, readonly=True)
    folder = fields.Char(string="Repository", readonly=True, help="Its repository's folder.")
    path = fields.Char(readonly=True, help="Its folder, relative to its repository.")
    old_version = fields.Char(string="Previous version", readonly=True)
    version = fields.Char(readonly=True, help="The version in its manifest at the release.")
    changed = fields.Boolean(readonly=True, help="Its files changed since the previous release.")
    bump = fields.Selection(BUMPS, string="Suggested bump", default="none", required=True)
    reason = fields.Char(readonly=True, help="Why this bump is suggested.")
    bumped = fields.Boolean(
        compute="_compute_bumped", help="The version already moved since the previous release."
    )

    def _compute_bumped(self):
        for line in self:
            line.bumped = bool(line.old_version) and line.version != line.old_version

    def write(self, vals):
        if not self.env.su:
            if set(vals) - {"bump"}:
                raise AccessError(self.env._("Only the suggested bump of a module line changes."))
            if any(line.release_id.state != "draft" for line in self):
                raise UserError(self.env._("Only a draft release's bumps change."))
        return super().write(vals)
