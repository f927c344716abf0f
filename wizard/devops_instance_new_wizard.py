"""New Odoo instance: from a workspace with Odoo to a running, monitored Odoo, in one run.

The dialog creates the instance (its start command and health URL need no editing), keeps
its passwords encrypted (devops.secret), and launches the pipeline "New Odoo instance" on
it: wait for the build, write the Odoo configuration file (mode 600, passwords inside,
never in a command line), create the database, start, wait until healthy.
"""

import re
import shlex

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import config

from ..engine import build as build_engine
from ..engine import service, validation
from ..engine.executor import ExecError
from ..models.utils import form_action

MANAGER = "erplibre_devops.group_devops_manager"
_MODULE = re.compile(r"[A-Za-z0-9_]+")


class DevopsInstanceNewWizard(models.TransientModel):
    _name = "devops.instance.new.wizard"
    _inherit = ["devops.input.mixin", "devops.secret.mixin"]
    _description = "DevOps: new Odoo instance"

    workspace_id = fields.Many2one("devops.workspace", required=True, ondelete="cascade")
    machine_id = fields.Many2one(related="workspace_id.machine_id")
    machine_kind = fields.Selection(related="workspace_id.machine_id.kind")
    odoo_version = fields.Char(related="workspace_id.odoo_version")
    name = fields.Char(string="Instance name", required=True)
    build_mode = fields.Selection(
        [
            ("new", "Build now (reused when nothing changed)"),
            ("existing", "An existing build"),
            ("adopt", "Adopt a virtualenv"),
        ],
        default="new",
        required=True,
    )
    build_id = fields.Many2one(
        "devops.build",
        domain="[('workspace_id', '=', workspace_id), ('state', '=', 'done')]",
    )
    adopt_path = fields.Char(
        string="Virtualenv",
        help="Absolute path of an existing virtualenv with Odoo's "
        "requirements, such as /home/odoo/venv.",
    )
    database = fields.Char(required=True)
    modules = fields.Char(
        string="Modules to install", help="Besides base: technical names, comma-separated."
    )
    demo = fields.Boolean(string="Demo data")
    lang = fields.Char(string="Language", help="Loaded besides English, such as fr_FR.")
    port = fields.Integer(required=True, help="A free port on the machine is suggested.")
    db_same = fields.Boolean(
        string="PostgreSQL of this Odoo server",
        help="Use the PostgreSQL connection of the Odoo server the app runs in (this "
        "machine only).",
    )
    db_host = fields.Char(string="PostgreSQL host", help="Empty: the local socket.")
    db_port = fields.Integer(string="PostgreSQL port", help="0: the default port (5432).")
    db_user = fields.Char(string="PostgreSQL user", help="Empty: the system user's name.")
    db_password = fields.Char(
        string="PostgreSQL password",
        compute="_compute_secrets",
        inverse="_inverse_db_password",
        help="Write-only; it goes into the instance's configuration file (mode 600).",
    )
    admin_password = fields.Char(
        compute="_compute_secrets",
        inverse="_inverse_admin_password",
        help="The instance's master password and the password of its admin user "
        "(at least 8 characters). Write-only.",
    )
    admin_password_set = fields.Boolean(compute="_compute_secrets")

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.user.has_group(MANAGER):
            raise AccessError(self.env._("Only DevOps managers can create instances."))
        for vals in vals_list:
            workspace = self.env["devops.workspace"].browse(vals.get("workspace_id")).exists()
            if not workspace:
                continue
            if not vals.get("database"):
                vals["database"] = re.sub(r"[^a-z0-9_]", "_", workspace.name.lower())[:40]
            if not vals.get("port"):
                vals["port"] = self._suggest_port(workspace)
            if not vals.get("name"):
                vals["name"] = workspace.name
            vals.setdefault("db_same", workspace.machine_id.kind == "local")
            builds = workspace.build_ids.filtered(lambda b: b.state == "done")
            if builds and not vals.get("build_id"):
                vals["build_id"] = builds[:1].id
        return super().create(vals_list)

    def _compute_secrets(self):
        names = self._secret_names()
        for wizard in self:
            wizard.db_password = wizard.admin_password = False
            wizard.admin_password_set = "admin_passwd" in names.get(wizard.id, ())

    def _inverse_db_password(self):
        for wizard in self:
            wizard._secret_store("db_password", _one_line(self.env, wizard.db_password))

    def _inverse_admin_password(self):
        for wizard in self:
            wizard._secret_store("admin_passwd", _one_line(self.env, wizard.admin_password))

    @api.model
    def _suggest_port(self, workspace):
        """The first free port from 8069 on the workspace's machine, leaving out the ports
        of its instances (started or not)."""
        machine = workspace.machine_id.sudo()
        taken = (
            self.env["devops.instance"]
            .sudo()
            .search([("machine_id", "=", machine.id)])
            .mapped("port")
        )
        try:
            ok, out = machine._executor().read_stdout(
                build_engine.free_port_argv(8069, taken), timeout=20
            )
        except ExecError:
            ok, out = False, ""
        return int(out.strip()) if ok and out.strip().isdigit() else 8069

    @api.onchange("workspace_id")
    def _onchange_workspace_id(self):
        if self.workspace_id:
            self.db_same = self.workspace_id.machine_id.kind == "local"

    def _module_list(self):
        names = [m.strip() for m in (self.modules or "").split(",") if m.strip()]
        bad = [m for m in names if not _MODULE.fullmatch(m)]
        if bad:
            raise ValidationError(
                self.env._(
                    "Not module names: %(names)s (such as sale,stock).", names=", ".join(bad)
                )
            )
        return names

    def _check(self):
        workspace = self.workspace_id
        if not workspace.odoo_path:
            raise UserError(
                self.env._(
                    "No Odoo source tree found in %(name)s: clone it (or Scan modules) first.",
                    name=workspace.name,
                )
            )
        problem = service.check_database(self.database) or validation.check_port(self.port)
        if problem:
            raise ValidationError(str(problem))
        if self.db_host:
            host_problem = (
                validation.check_absolute_path(self.db_host)
                if self.db_host.startswith("/")
                else validation.check_host(self.db_host)
            )
            if host_problem:
                raise ValidationError(self.env._(host_problem.template, **host_problem.params))
        if self.db_port and validation.check_port(self.db_port):
            raise ValidationError(str(validation.check_port(self.db_port)))
        user_problem = validation.check_user_name(self.db_user)
        if user_problem:
            raise ValidationError(self.env._(user_problem.template, **user_problem.params))
        try:
            build_engine.check_lang(self.lang)
        except build_engine.BuildInputError as error:
            raise ValidationError(str(error)) from error
        missing = set(self._module_list()) - set(workspace.module_ids.mapped("name"))
        if missing:
            raise ValidationError(
                self.env._(
                    "Not found in the workspace: %(names)s.", names=", ".join(sorted(missing))
                )
            )
        password = self._secret_values().get("admin_passwd") or ""
        if len(password) < 8:
            raise ValidationError(self.env._("Give an admin password of at least 8 characters."))

    def _db_connection(self):
        """(host, port, user, password) the instance connects with."""
        if self.db_same and self.workspace_id.machine_id.kind == "local":
            return (
                config.get("db_host") or False,
                int(config.get("db_port") or 0),
                config.get("db_user") or False,
                config.get("db_password") or False,
            )
        password = self._secret_values().get("db_password") or False
        return self.db_host or False, self.db_port or 0, self.db_user or False, password

    def _resolve_build(self):
        workspace = self.workspace_id
        Build = self.env["devops.build"]
        if self.build_mode == "existing":
            if not self.build_id or self.build_id.workspace_id != workspace:
                raise UserError(self.env._("Choose a finished build of this workspace."))
            return self.build_id
        if self.build_mode == "adopt":
            if not self.adopt_path:
                raise UserError(self.env._("Give the path of the virtualenv to adopt."))
            return Build.browse(workspace.build(adopt_path=self.adopt_path))
        return Build.browse(workspace.build())

    def action_create(self):
        """Create the instance and launch its pipeline; opens the run (live progress)."""
        self._ensure_one_existing()
        if not self.env.user.has_group(MANAGER):
            raise AccessError(self.env._("Only DevOps managers can create instances."))
        # Odoo runs the workspace's modules: a command of one's own, in effect.
        self.env["devops.exec"]._check_may_run_own_commands(self.workspace_id.machine_id)
        self._check()
        modules = self._module_list()
        build = self._resolve_build()
        host, port, user, db_password = self._db_connection()
        workspace = self.workspace_id.sudo()
        instance = self.env["devops.instance"].create(
            {
                "name": self.name,
                "workspace_id": workspace.id,
                "kind": "process",
                "port": self.port,
                "database": self.database,
                "build_id": build.id,
                "db_host": host,
                "db_port": port,
                "db_user": user,
            }
        )
        conf = instance._odoo_config_path()
        instance.start_command = " ".join(
            [
                shlex.quote(f"{build.venv_path}/bin/python"),
                shlex.quote(f"{workspace.odoo_path}/odoo-bin"),
                "-c",
                shlex.quote(conf),
                "--http-port {port} -d {database}",
            ]
        )
        secrets = self._secret_values()
        instance._secret_store("admin_passwd", secrets.get("admin_passwd"))
        instance._secret_store("db_password", db_password)
        self._secret_store("admin_passwd", False)
        self._secret_store("db_password", False)
        pipeline = self.env.ref("erplibre_devops.pipeline_new_odoo")
        params = {"build_id": build.id, "modules": modules, "demo": bool(self.demo),
                  "lang": self.lang or "", "health_wait": 300}  # fmt: skip
        run_id = pipeline.launch(instance, params)
        return form_action(self.env["devops.pipeline.run"].browse(run_id), target="current")


def _one_line(env, value):
    if value and (not isinstance(value, str) or validation.CONTROL.search(value)):
        raise ValidationError(env._("A password is one line of text."))
    return value or False
