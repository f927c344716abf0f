from odoo import fields, models

from ..models.utils import form_action


class DevopsReposImportWizard(models.TransientModel):
    """Fill a workspace's repositories from a git-aggregator repos.yaml."""

    _name = "devops.repos.import.wizard"
    _inherit = ["devops.input.mixin"]
    _description = "DevOps: import repos.yaml"

    workspace_id = fields.Many2one("devops.workspace", required=True, ondelete="cascade")
    content = fields.Text(
        string="repos.yaml",
        required=True,
        help="The content of a git-aggregator repos.yaml: each folder with its remotes and "
        "its first merge (remote and branch).",
    )

    def action_import(self):
        self._ensure_one_existing()
        self.workspace_id.import_repos_yaml(self.content)
        return form_action(self.workspace_id, target="current")
