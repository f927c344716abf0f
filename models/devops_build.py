"""A build: a workspace's Python environment at a set of commits (``engine/build.py``).

``devops.workspace.build()`` reads the workspace's facts (commits, requirement files, Python
version), hashes them into a fingerprint, and reuses a successful build of that
fingerprint whose virtualenv still exists; otherwise it creates a build and runs the
*Build* pipeline on it: virtualenv (``.devops/venv-<fingerprint>``), pip install of Odoo's
and every module's requirements, ``pip freeze`` kept as the build's lock.  A build may adopt
an existing virtualenv instead: its freeze is still recorded.  Old builds go by the
retention setting: the last N per workspace stay, and those an instance uses.
"""

import json

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..engine import build as engine
from .utils import form_action, open_action

STATES = [
    ("queued", "Queued"),
    ("running", "Running"),
    ("done", "Done"),
    ("failed", "Failed"),
    ("cancelled", "Cancelled"),
]


class DevopsBuild(models.Model):
    _name = "devops.build"
    _inherit = ["devops.input.mixin"]
    _description = "DevOps Build"
    _order = "id desc"

    name = fields.Char(readonly=True)
    workspace_id = fields.Many2one(
        "devops.workspace", required=True, ondelete="cascade", index=True, readonly=True
    )
    machine_id = fields.Many2one(related="workspace_id.machine_id", store=True, string="Machine")
    state = fields.Selection(STATES, default="queued", required=True, readonly=True, index=True)
    fingerprint = fields.Char(readonly=True, index=True)
    env_fingerprint = fields.Char(
        string="Environment fingerprint",
        readonly=True,
        index=True,
        help="The fingerprint without the commits: builds of the same requirements.",
    )
    python = fields.Char(readonly=True, help="The interpreter the virtualenv was made with.")
    python_version = fields.Char(readonly=True)
    venv_path = fields.Char(string="Virtualenv", readonly=True)
    adopted = fields.Boolean(
        readonly=True, help="An existing virtualenv, adopted as it is (never removed)."
    )
    commits = fields.Text(
        string="Commits (JSON)", readonly=True, help="The commit of each repository."
    )
    commit_summary = fields.Char(string="Commits", compute="_compute_commit_summary")
    requirement_files = fields.Text(readonly=True)
    requirements = fields.Text(string="Manifest requirements", readonly=True)
    lock = fields.Text(readonly=True, help="pip freeze of the virtualenv once built.")
    dockerfile = fields.Boolean(
        readonly=True, help="The workspace has a Dockerfile: the build makes its image too."
    )
    image = fields.Char(readonly=True, help="The Docker image built, tagged with the fingerprint.")
    run_id = fields.Many2one("devops.pipeline.run", string="Pipeline run", readonly=True)
    run_state = fields.Selection(related="run_id.state", string="Run state")
    # Read as the user (a run's steps follow its record rules: a run of someone else's
    # shows no steps to a plain DevOps user), never as superuser.
    step_ids = fields.One2many(related="run_id.step_ids", string="Steps", compute_sudo=False)
    date_start = fields.Datetime(string="Started", readonly=True)
    date_end = fields.Datetime(string="Ended", readonly=True)
    duration = fields.Float(string="Duration (s)", readonly=True, aggregator=None)
    reuse_count = fields.Integer(
        string="Reused",
        readonly=True,
        help="How many times a build of this fingerprint was asked for and this one served.",
    )
    user_id = fields.Many2one("res.users", string="Built by", readonly=True)
    instance_ids = fields.One2many("devops.instance", "build_id", string="Instances")
    message = fields.Text(readonly=True)

    def _compute_commit_summary(self):
        for build in self:
            commits = json.loads(build.commits or "{}")
            build.commit_summary = ", ".join(
                f"{folder or '.'}@{(sha or '?')[:8]}" for folder, sha in sorted(commits.items())
            )

    @api.model
    def _fresh_name(self, workspace):
        count = self.sudo().search_count([("workspace_id", "=", workspace.id)])
        return self.env._("%(workspace)s build %(number)s", workspace=workspace.name,
                          number=count + 1)  # fmt: skip

    def _on_run_end(self, run):
        """The build's pipeline run ended: the build takes its state."""
        self.ensure_one()
        state = {"done": "done", "cancelled": "cancelled"}.get(run.state, "failed")
        now = fields.Datetime.now()
        self.sudo().write(
            {
                "state": state,
                "date_end": now,
                "duration": (now - (self.date_start or now)).total_seconds(),
                "message": run.message,
            }
        )
        if state == "done":
            self.workspace_id._clean_builds()
        self.env["devops.change"]._refresh_workspaces(self.workspace_id)

    def action_rebuild(self):
        """Build the workspace again, from scratch, at its current commits."""
        self._ensure_one_existing()
        build_id = self.workspace_id.build(force=True)
        return form_action(self.browse(build_id), target="current")

    def action_open_run(self):
        self._ensure_one_existing()
        if not self.run_id:
            return False
        return form_action(self.run_id, target="current")

    def action_view_instances(self):
        self._ensure_one_existing()
        return open_action(
            self.env, "erplibre_devops.action_instance", [("build_id", "=", self.id)]
        )

    def _python_of(self):
        self.ensure_one()
        if not self.venv_path:
            raise UserError(self.env._("The build %(name)s has no virtualenv.", name=self.name))
        return f"{self.venv_path}/bin/python"

    @api.model
    def _requirements_of(self, workspace):
        """(requirement files, manifest requirements) of the workspace's last scan."""
        modules = workspace.module_ids.filtered("installable")
        files = []
        if workspace.odoo_path:
            files.append(f"{workspace.odoo_path}/requirements.txt")
        files += [f"{m.path}/requirements.txt" for m in modules if m.has_requirements]
        requirements = set()
        for module in modules.filtered("external_python"):
            for requirement in module.external_python.split(","):
                if requirement.strip() and not engine.requirement_problem(requirement):
                    requirements.add(requirement.strip())
        return files, sorted(requirements)

    @api.model
    def _pipeline_signature(self, pipeline):
        return [
            (s.sequence, s.kind, s.action or "", s.command or "", s.rollback)
            for s in pipeline.sudo().step_ids
        ]

    @api.model
    def _pip_options(self):
        import shlex  # noqa: PLC0415 - only here

        text = self.env["ir.config_parameter"].sudo().get_param("erplibre_devops.pip_options")
        return shlex.split(text or "")
