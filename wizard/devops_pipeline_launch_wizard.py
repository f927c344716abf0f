from odoo import api, fields, models
from odoo.exceptions import UserError

from ..models.utils import form_action


class DevopsPipelineLaunchWizard(models.TransientModel):
    """Run a pipeline on a workspace or an instance, with its parameters."""

    _name = "devops.pipeline.launch.wizard"
    _inherit = ["devops.input.mixin"]
    _description = "Run a pipeline"

    pipeline_id = fields.Many2one(
        "devops.pipeline",
        domain=[("code", "not in", ("release", "deploy", "refresh_staging", "restore"))],
    )
    target = fields.Selection(related="pipeline_id.target")
    instance_id = fields.Many2one("devops.instance")
    workspace_id = fields.Many2one("devops.workspace")
    ref = fields.Char(string="Branch, tag or commit", help="The {ref} parameter.")
    modules = fields.Char(help="The {modules} parameter: comma-separated module names.")
    params_text = fields.Text(
        string="Other parameters",
        help="One per line, name=value, such as smoke_url=http://localhost:8069. Each is a "
        "{placeholder} of the pipeline's command steps, quoted for the shell.",
    )

    @api.onchange("pipeline_id")
    def _onchange_pipeline_id(self):
        if self.pipeline_id.target == "workspace" and self.instance_id and not self.workspace_id:
            self.workspace_id = self.instance_id.workspace_id

    def _params(self):
        params = {}
        for number, line in enumerate((self.params_text or "").splitlines(), 1):
            if not line.strip():
                continue
            name, sep, value = line.partition("=")
            if not sep:
                raise UserError(self.env._("Line %(number)s: write name=value.", number=number))
            params[name.strip()] = value.strip()
        if self.ref:
            params["ref"] = self.ref
        if self.modules:
            params["modules"] = self.modules
        return params

    def action_run(self):
        self._ensure_one_existing()
        if not self.pipeline_id:
            raise UserError(self.env._("Choose the pipeline to run."))
        target = self.instance_id if self.pipeline_id.target == "instance" else self.workspace_id
        if not target:
            raise UserError(
                self.env._(
                    "Choose the %(kind)s to run %(pipeline)s on.",
                    kind=self.pipeline_id.target,
                    pipeline=self.pipeline_id.name,
                )
            )
        run_id = self.pipeline_id.launch(target, self._params())
        return form_action(self.env["devops.pipeline.run"].browse(run_id), target="current")
