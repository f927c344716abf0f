"""Pipelines: one mechanism for every multi-step job (update, build, test, release, deploy).

A pipeline is a template: ordered steps, each a *command* (a shell line run in the target's
folder, with ``{placeholders}``) or a built-in *action* (``devops.pipeline.actions``), with
a timeout, what to do when it fails (stop, continue, or roll back: run the pipeline's
rollback steps) and an optional condition.  ``launch`` makes a ``devops.pipeline.run`` of it
on a workspace or an instance; ``models/devops_pipeline_run.py`` says how a run advances.
"""

from odoo import fields, models
from odoo.exceptions import UserError

from ..engine import pipeline as engine
from .utils import count_by, form_action, open_action

# Pipelines that work for a record (a release, a deployment…): started by its actions only.
APP_ONLY = ("release", "deploy", "refresh_staging", "restore")


class DevopsPipeline(models.Model):
    _name = "devops.pipeline"
    _inherit = ["devops.input.mixin"]
    _devops_unique_name = True
    _description = "DevOps Pipeline"
    _order = "sequence, name, id"

    name = fields.Char(required=True, translate=True)
    code = fields.Char(
        copy=False,
        help="Technical name of a pipeline the app ships and uses (such as 'update'); empty "
        "for yours.",
    )
    sequence = fields.Integer(default=10)
    description = fields.Text(translate=True)
    stage_id = fields.Many2one(
        "devops.stage", required=True, help="The stage its runs belong to (and their menu)."
    )
    target = fields.Selection(
        [("workspace", "Workspace"), ("instance", "Instance")],
        required=True,
        default="instance",
        help="What a run acts on: a workspace (its folder on its machine), or an instance "
        "(its workspace's folder, and the instance itself).",
    )
    active = fields.Boolean(default=True)
    step_ids = fields.One2many("devops.pipeline.step", "pipeline_id", string="Steps", copy=True)
    # The same steps, as the form shows them: the main sequence, and the rollback one.
    main_step_ids = fields.One2many(
        "devops.pipeline.step",
        "pipeline_id",
        string="Main steps",
        domain=[("rollback", "=", False)],
    )
    rollback_step_ids = fields.One2many(
        "devops.pipeline.step",
        "pipeline_id",
        string="Rollback steps",
        domain=[("rollback", "=", True)],
    )
    run_count = fields.Integer(string="Runs", compute="_compute_run_count")

    _sql_constraints = [
        ("code_unique", "unique(code)", "Another pipeline already has this technical name."),
    ]

    def _compute_run_count(self):
        counts = count_by(self, "devops.pipeline.run", "pipeline_id")
        for pipeline in self:
            pipeline.run_count = counts.get(pipeline.id, 0)

    def launch(self, target, params=None):
        """Run this pipeline on ``target`` (a devops.workspace or devops.instance record, or
        its id) with ``params`` (a dict such as {"ref": "v1.2", "modules": ["sale"]});
        returns the new devops.pipeline.run id.  At most one run is active per instance (and
        per workspace for workspace pipelines): a second launch says which one is."""
        self._ensure_one_existing()
        if not self.active:
            raise UserError(self.env._("The pipeline %(name)s is archived.", name=self.name))
        if self.code in APP_ONLY:
            raise UserError(
                self.env._(
                    "The pipeline %(name)s is started by the app (Release, Deploy, Refresh "
                    "staging, Restore), not directly.",
                    name=self.name,
                )
            )
        target = self._target_record(target)
        try:
            params = engine.check_params(params)
        except engine.ParamError as error:
            raise UserError(str(error)) from error
        return self.env["devops.pipeline.run"]._launch(self, target, params).id

    def _launch_for(self, target, params, link=None):
        """Start this pipeline for the app (the public ``launch`` refuses app-only ones)."""
        self._ensure_one_existing()
        target = self._target_record(target)
        try:
            params = engine.check_params(params)
        except engine.ParamError as error:
            raise UserError(str(error)) from error
        return self.env["devops.pipeline.run"]._launch(self, target, params, link).id

    def _target_record(self, target):
        model = f"devops.{self.target}"
        if isinstance(target, models.BaseModel):
            if target._name != model:
                raise UserError(
                    self.env._(
                        "The pipeline %(name)s runs on a %(kind)s, not on %(other)s.",
                        name=self.name,
                        kind=self.target,
                        other=target._name,
                    )
                )
            record = target
        elif isinstance(target, int) and not isinstance(target, bool):
            record = self.env[model].browse(target)
        else:
            raise UserError(
                self.env._(
                    "The target is a %(kind)s or its id, not %(value)r.",
                    kind=self.target,
                    value=target,
                )
            )
        record._ensure_one_existing()
        return record

    def action_open_launch_wizard(self):
        self._ensure_one_existing()
        wizard = self.env["devops.pipeline.launch.wizard"].create({"pipeline_id": self.id})
        return form_action(wizard, self.env._("Run %(name)s", name=self.name))

    def action_view_runs(self):
        self._ensure_one_existing()
        return open_action(
            self.env, "erplibre_devops.action_pipeline_run", [("pipeline_id", "=", self.id)]
        )
