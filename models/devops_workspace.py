from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..engine import validation
from .utils import count_by, open_action


class DevopsWorkspace(models.Model):
    """A directory on a machine, usually a git checkout of an Odoo/ERPLibre project."""

    _name = "devops.workspace"
    _description = "DevOps Workspace"
    _order = "name, id"

    name = fields.Char(required=True)
    machine_id = fields.Many2one(
        "devops.machine",
        required=True,
        ondelete="restrict",
        default=lambda self: self.env.ref(
            "erplibre_devops.machine_local", raise_if_not_found=False
        ),
    )
    path = fields.Char(
        required=True,
        help="Absolute path of the workspace on its machine, such as /home/odoo/erplibre.",
    )
    active = fields.Boolean(default=True)
    instance_ids = fields.One2many("devops.instance", "workspace_id", string="Instances")
    exec_count = fields.Integer(string="Runs", compute="_compute_exec_count")

    _sql_constraints = [
        ("name_unique", "unique(name)", "Another workspace already has this name."),
        (
            "machine_path_unique",
            "unique(machine_id, path)",
            "Another workspace already uses this path on this machine.",
        ),
    ]

    def _compute_exec_count(self):
        counts = count_by(self, "devops.exec", "workspace_id")
        for workspace in self:
            workspace.exec_count = counts.get(workspace.id, 0)

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._normalize_path_vals(vals)
        return super().create(vals_list)

    def write(self, vals):
        self._normalize_path_vals(vals)
        return super().write(vals)

    @api.model
    def _normalize_path_vals(self, vals):
        """Refuse a bad path before it reaches the database (PostgreSQL rejects NUL with an
        unreadable error), and store a good one in its normal form."""
        if "path" in vals:
            self._raise_path_problem(vals["path"] or "")
            vals["path"] = validation.normalize_path(vals["path"])

    @api.model
    def _raise_path_problem(self, path):
        problem = validation.check_absolute_path(path)
        if problem:
            raise ValidationError(self.env._(problem.template, **problem.params))

    @api.constrains("path")
    def _check_path(self):
        for workspace in self:
            self._raise_path_problem(workspace.path or "")

    def action_open_exec_wizard(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("erplibre_devops.action_exec_wizard")
        action["context"] = {
            "default_machine_id": self.machine_id.id,
            "default_workspace_id": self.id,
        }
        return action

    def action_view_execs(self):
        self.ensure_one()
        return open_action(
            self.env, "erplibre_devops.action_exec", [("workspace_id", "=", self.id)]
        )

    def exec_command(self, command, timeout=None, stage=None):
        """Queue ``command`` in this workspace's directory; returns the new devops.exec id.

        ``command``: an argv list, or a string run by ``/bin/sh -c``; ``timeout`` in
        seconds (default from Settings); ``stage``: a devops.stage id or code."""
        self.ensure_one()
        return self.env["devops.exec"]._enqueue(
            self.machine_id,
            command,
            cwd=self.path,
            timeout=timeout,
            stage=stage,
            workspace=self,
        )
