"""Scaffold a module for a change: the name, its title and where it goes."""

import posixpath
from collections import Counter

from odoo import api, fields, models

from ..engine.scaffold import LICENSES


class DevopsChangeScaffoldWizard(models.TransientModel):
    _name = "devops.change.scaffold.wizard"
    _inherit = ["devops.input.mixin"]
    _description = "Scaffold a module for a change"

    change_id = fields.Many2one("devops.change", required=True, ondelete="cascade")
    workspace_id = fields.Many2one(
        "devops.workspace",
        domain="[('id', 'in', workspace_choice_ids)]",
        compute="_compute_workspace_id",
        store=True,
        readonly=False,
    )
    workspace_choice_ids = fields.Many2many(related="change_id.workspace_ids")
    branch = fields.Char(related="change_id.branch")
    title = fields.Char(
        compute="_compute_title",
        store=True,
        precompute=True,
        readonly=False,
        help="The module's name shown in Apps; the technical name if empty.",
    )
    name = fields.Char(
        string="Technical name",
        compute="_compute_name",
        store=True,
        precompute=True,
        readonly=False,
        required=True,
        help="Such as library_book: lowercase letters, digits and underscores.",
    )
    addons_dir = fields.Char(
        string="Addons folder",
        compute="_compute_addons_dir",
        store=True,
        readonly=False,
        help="A folder of one of the workspace's repositories, relative to the workspace, "
        "such as addons: the module goes in it.",
    )
    depends = fields.Char(default="base", help="Module names, comma-separated.")
    license = fields.Selection([(name, name) for name in LICENSES], default="LGPL-3", required=True)

    @api.depends("change_id")
    def _compute_title(self):
        for wizard in self:
            wizard.title = wizard.change_id.name

    @api.depends("title")
    def _compute_name(self):
        """library_books for "Add the library books" (as the change's branch)."""
        for wizard in self:
            words = self.env["devops.change"]._title_words(wizard.title)
            slug = "_".join(words)[:50].strip("_")
            wizard.name = slug if slug[:1].isalpha() else False

    @api.depends("change_id")
    def _compute_workspace_id(self):
        for wizard in self:
            wizard.workspace_id = wizard.change_id.workspace_ids[:1]

    @api.depends("workspace_id")
    def _compute_addons_dir(self):
        """Where the workspace's own modules mostly are."""
        for wizard in self:
            workspace = wizard.workspace_id.sudo()
            base = (workspace.path or "").rstrip("/")
            dirs = Counter(
                posixpath.relpath(posixpath.dirname(m.path), base)
                for m in workspace.module_ids
                if m.path and not m.odoo_core and m.path.startswith(base + "/")
            )
            if dirs:
                wizard.addons_dir = dirs.most_common(1)[0][0]
            else:
                repo = workspace._repos_in_order().filtered("folder")[-1:]
                wizard.addons_dir = repo.folder or "."

    @staticmethod
    def _short(commit):
        """ "1a2b3c4d5e [ADD] x: X" from "<40 hex> [ADD] x: X"."""
        sha, _sep, subject = commit.partition(" ")
        return f"{sha[:10]} {subject}"[:200]

    def action_scaffold(self):
        self._ensure_one_existing()
        depends = [d.strip() for d in (self.depends or "base").split(",") if d.strip()]
        done = self.change_id.action_scaffold_module(
            self.name,
            self.addons_dir,
            title=self.title or None,
            depends=depends,
            license_=self.license,
            workspace_id=self.workspace_id.id,
        )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "message": self.env._("Committed %(commit)s", commit=self._short(done)),
                "type": "success",
                "next": {"type": "ir.actions.act_window_close"},
            },
        }
