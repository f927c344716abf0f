"""Instances: services (an Odoo server first of all) run from a workspace, and their operation.

Start, stop, restart, log and backup are runs of the execution engine (``devops.exec``), so
they go through the background runner and appear in the execution log.  The operate cron
(``_cron_operate``) looks at every started instance — process or container alive, port
open, health URL answering — updates its state, opens and closes incidents, and restarts the
instances whose policy says so.  The monitor cron (``_cron_monitor``) records the same
observations as ``devops.instance.check`` samples, the history behind uptime and latency.
"""

import collections
import datetime
import json
import logging
import shlex
import time

from psycopg2.errors import TransactionRollbackError

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..engine import observe, service, uptime, validation
from ..engine.executor import ExecError
from .devops_exec import STATES
from .devops_pipeline_actions import default_update_command
from .utils import arg_int, arg_text, count_by, form_action, open_action, stay

_logger = logging.getLogger(__name__)

INSTANCE_STATES = [
    ("stopped", "Stopped"),
    ("starting", "Starting"),
    ("restarting", "Restarting"),
    ("running", "Running"),
    ("degraded", "Degraded"),
    ("down", "Down"),
]
ENVIRONMENTS = [
    ("development", "Development"),
    ("staging", "Staging"),
    ("production", "Production"),
]
STARTING_GRACE = 60  # seconds a starting instance may take before it counts as down
SETTLE_INTERVAL = 3  # seconds between checks while an instance starts
_LAST_PASS = {}  # {database: time.monotonic() of the last operate pass}
PARAM = "erplibre_devops."


class DevopsInstance(models.Model):
    _name = "devops.instance"
    _inherit = ["devops.input.mixin", "devops.secret.mixin"]
    _devops_unique_name = True
    _description = "DevOps Instance"
    _order = "name, id"

    name = fields.Char(required=True)
    workspace_id = fields.Many2one("devops.workspace", required=True, ondelete="restrict")
    machine_id = fields.Many2one(
        related="workspace_id.machine_id", string="Machine", store=True, index=True
    )
    kind = fields.Selection(
        [("process", "Process"), ("docker", "Docker container")],
        required=True,
        default="process",
        help="Process: the start command runs detached in the workspace's directory. "
        "Docker: a container of the image, named devops-instance-<id>.",
    )
    start_command = fields.Text(
        help="Run by /bin/sh -c in the workspace's directory; {port} and {database} are "
        "replaced, e.g. ./odoo-bin -c odoo.conf --http-port {port} -d {database}",
    )
    image = fields.Char(help="Docker image, such as odoo:18.0.")
    container_port = fields.Integer(default=8069, help="The port the container listens on.")
    port = fields.Integer(default=8069, required=True, help="HTTP port, from 1 to 65535.")
    database = fields.Char(help="Name of the instance's PostgreSQL database.")
    url = fields.Char(
        string="URL",
        compute="_compute_url",
        store=True,
        readonly=False,
        help="Where the instance answers; by default its machine's host and its port.",
    )
    health_url = fields.Char(
        string="Health URL",
        compute="_compute_health_url",
        store=True,
        readonly=False,
        help="A GET here must answer 2xx; Odoo's /web/health by default. Empty: the open "
        "port is enough.",
    )
    build_id = fields.Many2one(
        "devops.build",
        ondelete="set null",
        index=True,
        help="The build (virtualenv) the instance runs with, when the app made it.",
    )
    config_path = fields.Char(
        string="Configuration file",
        readonly=True,
        copy=False,
        help="The Odoo configuration file the app wrote (mode 600: it holds passwords).",
    )
    db_host = fields.Char(string="PostgreSQL host", help="Empty: the local socket.")
    db_port = fields.Integer(string="PostgreSQL port", help="0: the default port.")
    db_user = fields.Char(string="PostgreSQL user", help="Empty: the system user's name.")
    state = fields.Selection(
        INSTANCE_STATES,
        default="stopped",
        required=True,
        readonly=True,
        copy=False,
        index=True,
    )
    state_date = fields.Datetime(string="State since", readonly=True, copy=False)
    active = fields.Boolean(default=True)
    environment = fields.Selection(
        ENVIRONMENTS,
        default="development",
        required=True,
        index=True,
        help="Production: stopping it asks for confirmation, its deployments need a "
        "manager's approval, and it is marked as such on every screen. Staging: a copy of "
        "production (Refresh staging) where releases are tried first.",
    )
    production = fields.Boolean(compute="_compute_production", store=True)
    release_id = fields.Many2one(
        "devops.release",
        readonly=True,
        copy=False,
        ondelete="set null",
        help="The release its last deployment brought (and which is running).",
    )

    auto_restart = fields.Boolean(
        # Settings store a ticked box as "True" (and an unticked one as no parameter at all).
        default=lambda self: self._param("auto_restart", "True") in ("1", "True"),
        help="Restart the instance when the operate cron finds it down.",
    )
    restart_max_per_hour = fields.Integer(
        string="Restarts per hour at most",
        default=lambda self: int(self._param("restart_max_per_hour", 3)),
    )
    restart_backoff = fields.Integer(
        string="Backoff (s)",
        default=lambda self: int(self._param("restart_backoff", 30)),
        help="Wait this long before the first restart, doubling after each one.",
    )
    restart_given_up = fields.Boolean(readonly=True, copy=False)

    last_check_date = fields.Datetime(string="Last check", readonly=True, copy=False)
    last_http_status = fields.Integer(
        string="HTTP status", readonly=True, aggregator=None, copy=False
    )
    last_latency_ms = fields.Float(string="Latency (ms)", readonly=True, copy=False)
    last_error = fields.Text(string="Last problem", readonly=True, copy=False)
    pid = fields.Integer(string="PID", readonly=True, aggregator=None, copy=False)

    exec_ids = fields.One2many("devops.exec", "instance_id", string="Runs")
    incident_ids = fields.One2many("devops.incident", "instance_id", string="Incidents")
    check_ids = fields.One2many("devops.instance.check", "instance_id", string="Checks")
    backup_ids = fields.One2many("devops.instance.backup", "instance_id", string="Backups")
    open_incident_count = fields.Integer(compute="_compute_open_incident_count")
    pipeline_run_count = fields.Integer(
        string="Pipeline runs", compute="_compute_pipeline_run_count"
    )
    interval_ids = fields.One2many(
        "devops.instance.interval", "instance_id", string="State history"
    )
    # Uptime from the state intervals (engine/uptime.py); -1: no data yet (never 0 %).
    uptime_24h = fields.Float(string="Uptime 24 h (%)", compute="_compute_uptime")
    uptime_7d = fields.Float(string="Uptime 7 days (%)", compute="_compute_uptime")
    uptime_30d = fields.Float(string="Uptime 30 days (%)", compute="_compute_uptime")
    uptime_days = fields.Text(
        string="Uptime per day", compute="_compute_uptime", help="The last 7 days, as JSON."
    )
    latency_series = fields.Text(compute="_compute_latency_series")
    latency_series_7d = fields.Text(compute="_compute_latency_series")
    status_strip = fields.Text(compute="_compute_status_strip", help="The last 50 checks, as JSON.")
    action_exec_id = fields.Many2one(
        "devops.exec",
        string="Last action",
        compute="_compute_action_exec",
        help="The latest start, stop, restart, log or backup of this instance.",
    )
    action_exec_state = fields.Selection(
        STATES,
        string="Action state",
        compute="_compute_action_exec",
    )

    _sql_constraints = [
        ("name_unique", "unique(name)", "Another instance already has this name."),
    ]

    @api.model_create_multi
    def create(self, vals_list):
        instances = super().create(vals_list)
        self.env["devops.instance.interval"]._record(instances, "stopped", fields.Datetime.now())
        return instances

    def write(self, vals):
        changed = self.browse()
        if "state" in vals:
            changed = self.filtered(lambda i: i.state != vals["state"])
        result = super().write(vals)
        if changed:
            when = vals.get("state_date") or fields.Datetime.now()
            self.env["devops.instance.interval"]._record(changed, vals["state"], when)
        return result

    @api.model
    def _param(self, key, default):
        return self.env["ir.config_parameter"].sudo().get_param(PARAM + key, default)

    # --- Computes and checks ---------------------------------------------------------

    @api.depends("environment")
    def _compute_production(self):
        for instance in self:
            instance.production = instance.environment == "production"

    @api.depends("machine_id.kind", "machine_id.host", "port")
    def _compute_url(self):
        for instance in self:
            machine = instance.machine_id
            host = machine.host if machine.kind == "ssh" and machine.host else "localhost"
            if ":" in host and not host.startswith("["):
                host = f"[{host}]"
            instance.url = f"http://{host}:{instance.port}" if instance.port else False

    @api.depends("url")
    def _compute_health_url(self):
        for instance in self:
            instance.health_url = (
                f"{instance.url.rstrip('/')}/web/health" if instance.url else False
            )

    def _compute_open_incident_count(self):
        groups = self.env["devops.incident"]._read_group(
            [("instance_id", "in", self.ids), ("date_end", "=", False)],
            ["instance_id"],
            ["__count"],
        )
        counts = {instance.id: count for instance, count in groups}
        for instance in self:
            instance.open_incident_count = counts.get(instance.id, 0)

    def _excluded_periods(self, since, until):
        """{instance id: [(start, end)]}: periods left out of uptime (maintenance windows)."""
        Window = self.env.get("devops.maintenance.window")
        if Window is None:
            return {}
        return Window.sudo()._windows(self.ids, since, until)

    def _compute_uptime(self):
        # to the microsecond: an instance running since this second has been observed up
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        Interval = self.env["devops.instance.interval"].sudo()
        month = now - datetime.timedelta(days=30)
        history = Interval._history(self.ids, month, now)
        excluded = self._excluded_periods(month, now)
        for instance in self:
            intervals, off = history.get(instance.id, []), excluded.get(instance.id, ())
            for field, days in (("uptime_24h", 1), ("uptime_7d", 7), ("uptime_30d", 30)):
                value = uptime.uptime(intervals, now - datetime.timedelta(days=days), now, off)
                instance[field] = -1.0 if value is None else value
            instance.uptime_days = json.dumps(
                [
                    [fields.Date.to_string(day), None if value is None else round(value, 2)]
                    for day, value in uptime.per_day(intervals, 7, now, off)
                ]
            )

    def _compute_latency_series(self):
        now = fields.Datetime.now()
        Check = self.env["devops.instance.check"]
        for field, since, interval in (
            ("latency_series", now - datetime.timedelta(hours=24), "hour"),
            ("latency_series_7d", now - datetime.timedelta(days=7), "day"),
        ):
            groups = Check._read_group(
                [("instance_id", "in", self.ids), ("date", ">=", since), ("latency_ms", ">", 0)],
                ["instance_id", f"date:{interval}"],
                ["latency_ms:avg"],
            )
            series = collections.defaultdict(list)
            for instance, moment, latency in groups:
                series[instance.id].append([fields.Datetime.to_string(moment), round(latency, 1)])
            for instance in self:
                instance[field] = json.dumps(sorted(series.get(instance.id, [])))

    def _compute_status_strip(self):
        for instance in self:
            checks = self.env["devops.instance.check"].search(
                [("instance_id", "=", instance.id)], order="date desc, id desc", limit=50
            )
            instance.status_strip = json.dumps(
                [
                    [fields.Datetime.to_string(c.date), c.state, c.http_status, c.latency_ms]
                    for c in reversed(checks)
                ]
            )

    def _compute_action_exec(self):
        for instance in self:
            run = self.env["devops.exec"].search(
                [("instance_id", "=", instance.id), ("instance_action", "!=", False)],
                order="id desc",
                limit=1,
            )
            instance.action_exec_id = run
            instance.action_exec_state = run.state

    @api.constrains("port", "container_port")
    def _check_port(self):
        for instance in self:
            for port in (instance.port, instance.container_port):
                problem = validation.check_port(port)
                if problem:
                    raise ValidationError(self.env._(problem.template, **problem.params))

    @api.constrains("url", "health_url")
    def _check_url(self):
        for instance in self:
            for url in (instance.url, instance.health_url):
                problem = url and validation.check_url(url)
                if problem:
                    raise ValidationError(self.env._(problem.template, **problem.params))

    @api.constrains("database", "image", "kind")
    def _check_service(self):
        for instance in self:
            problem = service.check_database(instance.database)
            if not problem and instance.kind == "docker" and instance.image:
                problem = service.check_image(instance.image)
            if problem:
                raise ValidationError(problem)

    # --- Lifecycle ---------------------------------------------------------------------

    def _paths(self):
        return service.paths(self.workspace_id.path, self.id)

    def _odoo_config_path(self):
        self.ensure_one()
        folder = f"{self.workspace_id.path.rstrip('/')}/{service.STATE_DIR}"
        return f"{folder}/instance-{self.id}.conf"

    def _start_argv(self):
        self.ensure_one()
        if self.kind == "docker":
            if not self.image:
                raise UserError(
                    self.env._("Set the Docker image of %(name)s first.", name=self.name)
                )
            return service.docker_run_argv(
                self.id, self.image, self.port, self.container_port, self.database
            )
        if not (self.start_command or "").strip():
            raise UserError(
                self.env._(
                    "Set the start command of %(name)s first, e.g. "
                    "./odoo-bin --http-port {port} -d {database}",
                    name=self.name,
                )
            )
        pid_file, log_file = self._paths()
        command = service.expand(self.start_command, self.port, self.database)
        keep, max_bytes = self._log_rotation()
        return service.process_start_argv(command, log_file, pid_file, keep, max_bytes)

    def _log_rotation(self):
        """(files kept, bytes per file) of instance logs, from the settings."""
        try:
            keep = int(self._param("log_keep", 5))
            max_mb = int(self._param("log_max_mb", 10))
        except ValueError:
            keep, max_mb = 5, 10
        return keep, max_mb * 1024 * 1024

    def _stop_argv(self):
        self.ensure_one()
        if self.kind == "docker":
            return service.docker_stop_argv(self.id)
        return service.process_stop_argv(self._paths()[0])

    def _queue(self, action, argv):
        """Queue a lifecycle run (start, stop, log…): commands the app writes from what a
        manager registered, so any DevOps user may run them, on this machine too."""
        self.ensure_one()
        self.check_access("read")
        return self.env["devops.exec"]._enqueue(
            self.machine_id.sudo(),
            argv,
            cwd=self.workspace_id.sudo().path,
            stage="operate",
            workspace=self.workspace_id,
            instance=self,
            action=action,
            builtin=True,
            title=self._action_title(action),
        )

    def _restart_argv(self):
        return [
            "/bin/sh",
            "-c",
            f"{shlex.join(self._stop_argv())}; {shlex.join(self._start_argv())}",
        ]

    def _set_state(self, state, **values):
        if state == "stopped":  # what was seen of the running service no longer holds
            values = {
                "pid": 0,
                "last_http_status": 0,
                "last_latency_ms": 0.0,
                "last_error": False,
                **values,
            }
        self.sudo().write({"state": state, "state_date": fields.Datetime.now(), **values})

    def _action_title(self, action):
        titles = {
            "start": self.env._("Start %(name)s", name=self.name),
            "stop": self.env._("Stop %(name)s", name=self.name),
            "restart": self.env._("Restart %(name)s", name=self.name),
            "auto_restart": self.env._("Automatic restart of %(name)s", name=self.name),
            "log": self.env._("Log of %(name)s", name=self.name),
            "backup": self.env._("Back up the database of %(name)s", name=self.name),
            "restore": self.env._("Restore a backup of %(name)s", name=self.name),
            "backup_rotate": self.env._("Delete old backups of %(name)s", name=self.name),
        }
        return titles.get(action)

    def action_start(self):
        """Start it; the user stays on the instance, which shows the start's progress."""
        self._ensure_one_existing()
        self._queue("start", self._start_argv())
        self._set_state("starting", restart_given_up=False)
        return self._stay(self.env._("Starting %(name)s…", name=self.name))

    def action_restart(self):
        self._ensure_one_existing()
        self._queue("restart", self._restart_argv())
        self._set_state("restarting", restart_given_up=False)
        return self._stay(self.env._("Restarting %(name)s…", name=self.name))

    def action_stop(self):
        self._ensure_one_existing()
        self._queue("stop", self._stop_argv())
        self._set_state("stopped")
        self.incident_ids.filtered(lambda i: not i.date_end)._close(
            self.env._("Stopped by %(user)s.", user=self.env.user.name)
        )
        return self._stay(self.env._("Stopping %(name)s…", name=self.name))

    def _stay(self, message):
        """The user stays where they are: a short notice, and the page shows the rest."""
        return stay(message)

    @api.model
    def devops_last_change(self, ids=None):
        """As for every model, and the instance's start, stop or restart finishing too (the
        form shows its progress)."""
        last = super().devops_last_change(ids)
        if ids is None:
            return last
        readable = self.search([("id", "in", ids[:1000])])
        if not readable:
            return last
        ((run_last,),) = (
            self.env["devops.exec"]
            .sudo()
            ._read_group(
                [("instance_id", "in", readable.ids), ("instance_action", "!=", False)],
                [],
                ["write_date:max"],
            )
        )
        run_last = fields.Datetime.to_string(run_last) if run_last else False
        return max(last or "", run_last or "") or False

    def action_open_action_exec(self):
        """Open the latest lifecycle run (its live output)."""
        self._ensure_one_existing()
        if not self.action_exec_id:
            return False
        return self.env["devops.exec"]._action_open(self.action_exec_id.id)

    def _on_run_finished(self, run):
        """A start that failed leaves the instance down, saying why (the run's own words)."""
        self.ensure_one()
        if run.instance_action not in ("start", "restart", "auto_restart"):
            return
        if run.state != "done":
            reason = run.error_message or (run.output_stderr or run.output or "").strip()[-2000:]
            self._set_state("down", last_error=reason or self.env._("The start failed."))
        else:  # started: the operate cron checks it at once, then every few seconds
            self._check_soon()

    def debug_start(self, test_tags=None, timeout=None):
        """Run the instance's start command in the foreground in Odoo's debug mode
        (--dev=all --log-level=debug, and the tests of ``test_tags`` if given), stopping
        after initialisation; returns the run's id (stage Code)."""
        self._ensure_one_existing()
        self.check_access("read")
        test_tags = arg_text(self.env, self.env._("The test tags"), test_tags, max_length=1000)
        if self.kind != "process":
            raise UserError(self.env._("Debug mode starts process instances only."))
        self._start_argv()  # the same checks as a start
        command = service.expand(self.start_command, self.port, self.database)
        command += " --dev=all --log-level=debug"
        if test_tags:
            command += " --test-enable --test-tags " + shlex.quote(test_tags)
        command += " --stop-after-init"
        Exec = self.env["devops.exec"]
        return Exec._enqueue(
            self.machine_id,
            command,
            cwd=self.workspace_id.path,
            timeout=timeout,
            stage="code",
            workspace=self.workspace_id,
            instance=self,
            builtin=True,
        )

    def update_code(
        self, ref=None, modules=None, pip_command=None, update_command=None, health_wait=60
    ):
        """Update this instance to new code with the pipeline "Update"; returns the
        devops.pipeline.run id.

        ``ref``: branch, tag or commit (None: pull the current branch); ``modules``: list or
        comma-separated (None: the modules whose files changed); ``pip_command``: run when
        requirements.txt changed (None: pip install -r requirements.txt; "": none);
        ``update_command``: with {modules} (None: the start command with -u {modules}
        --stop-after-init; "": no module update); ``health_wait``: seconds, 1 to 3600.
        Commands other than the defaults are commands of one's own: on this machine they
        need the group 'Run commands on the Odoo server'."""
        self._ensure_one_existing()
        env = self.env
        ref = arg_text(env, env._("The branch, tag or commit"), ref, max_length=250)
        if isinstance(modules, list):
            modules = ",".join(str(m) for m in modules)
        modules = arg_text(env, env._("The modules"), modules, max_length=10000)
        pip_command = _command_arg(env, env._("The pip command"), pip_command)
        update_command = _command_arg(env, env._("The update command"), update_command)
        health_wait = arg_int(env, env._("The health wait"), health_wait, 1, 3600, default=60)
        params = {"health_wait": health_wait}
        if ref:
            params["ref"] = ref
        if modules:
            params["modules"] = modules
        if pip_command is not None:
            params["pip_command"] = pip_command
        if update_command is not None and update_command != default_update_command(self):
            params["update_command"] = update_command
        pipeline = self.env.ref("erplibre_devops.pipeline_update")
        return pipeline.launch(self, params)

    def action_open_update_wizard(self):
        self._ensure_one_existing()
        return form_action(
            self.env["devops.update.wizard"].create({"instance_id": self.id}),
            self.env._("Update %(name)s", name=self.name),
        )

    def _compute_pipeline_run_count(self):
        counts = count_by(self, "devops.pipeline.run", "instance_id")
        for record in self:
            record.pipeline_run_count = counts.get(record.id, 0)

    def action_view_pipeline_runs(self):
        self._ensure_one_existing()
        return open_action(
            self.env, "erplibre_devops.action_pipeline_run", [("instance_id", "=", self.id)], {}
        )

    def action_open_pipeline_wizard(self):
        self._ensure_one_existing()
        wizard = self.env["devops.pipeline.launch.wizard"].create(
            {"instance_id": self.id, "workspace_id": self.workspace_id.id}
        )
        return form_action(wizard, self.env._("Run a pipeline on %(name)s", name=self.name))

    def action_open_debug_wizard(self):
        self._ensure_one_existing()
        wizard = self.env["devops.debug.wizard"].create(
            {"workspace_id": self.workspace_id.id, "instance_id": self.id, "mode": "instance"}
        )
        return wizard._reopen()

    def action_view_log(self):
        """The instance's log, followed live in a dialog (with a search)."""
        self._ensure_one_existing()
        wizard = self.env["devops.instance.log.wizard"].create({"instance_id": self.id})
        return form_action(wizard, self.env._("Log of %(name)s", name=self.name))

    def log_tail(self, lines=200, search=None):
        """The last ``lines`` lines of the instance's log (1 to 5 000), only those holding
        ``search`` (case-insensitive) when given; read on its machine, at once."""
        self._ensure_one_existing()
        lines = arg_int(self.env, self.env._("The number of lines"), lines, 1, 5000, default=200)
        search = arg_text(self.env, self.env._("The search"), search, max_length=200)
        if self.kind == "docker":
            argv = service.docker_log_argv(self.id, lines)
        else:
            argv = service.process_log_argv(self._paths()[1], lines)
        try:
            ok, out = self.sudo().machine_id._executor().read_stdout(argv, timeout=15)
        except (ExecError, UserError) as error:
            return self.env._("The log cannot be read: %(error)s", error=error)
        if not ok:
            return self.env._("The log cannot be read: %(error)s", error=out.strip()[-500:])
        out = out.replace("\x00", "\u2400")
        if search:
            needle = search.lower()
            out = "".join(line for line in out.splitlines(True) if needle in line.lower())
        return out

    def action_open(self):
        self._ensure_one_existing()
        return {"type": "ir.actions.act_url", "url": self.url, "target": "new"}

    def action_check(self):
        """Check now (bounded by the health timeout), and say what was found."""
        self._ensure_one_existing()
        self._operate()
        kind = {"running": "success", "starting": "info", "stopped": "info"}.get(
            self.state, "danger"
        )
        state = dict(self._fields["state"]._description_selection(self.env))[self.state]
        message = state + (f": {self.last_error}" if self.last_error else "")
        return self.machine_id._notify(message, kind)

    def action_view_incidents(self):
        self._ensure_one_existing()
        return open_action(
            self.env, "erplibre_devops.action_incident", [("instance_id", "=", self.id)]
        )

    def action_view_checks(self):
        self._ensure_one_existing()
        return open_action(
            self.env, "erplibre_devops.action_instance_check", [("instance_id", "=", self.id)]
        )

    # --- Overview ---------------------------------------------------------------------

    @api.model
    def overview_data(self):
        """What the app's home page shows, as the user may see it."""
        self.check_access("read")
        states = dict(self._fields["state"]._description_selection(self.env))
        badges = {
            "running": "text-bg-success",
            "down": "text-bg-danger",
            "degraded": "text-bg-warning",
            "starting": "text-bg-info",
            "restarting": "text-bg-info",
            "stopped": "text-bg-secondary",
        }
        groups = self._read_group([], ["state"], ["__count"])
        order = list(states)
        counts = sorted(groups, key=lambda group: order.index(group[0]))
        attention = self.search([("state", "in", ("down", "degraded"))], limit=20)
        incidents = self.env["devops.incident"].search([("date_end", "=", False)], limit=20)
        machines = self.env["devops.machine"].search([], limit=50)
        week = fields.Datetime.now() - datetime.timedelta(days=7)
        failed = self.env["devops.exec"].search(
            [
                ("state", "in", ("failed", "timeout", "interrupted")),
                ("date_end", ">=", week),
            ],
            order="id desc",
            limit=10,
        )
        return {
            "states": [
                {"state": state, "label": states[state], "count": count, "badge": badges[state]}
                for state, count in counts
            ],
            "attention": [
                {
                    "id": i.id,
                    "name": i.name,
                    "state_label": states[i.state],
                    "badge": badges[i.state],
                    "error": (i.last_error or "")[:200],
                }
                for i in attention
            ],
            "incidents": [
                {
                    "id": i.id,
                    "instance": i.instance_id.name,
                    "since": fields.Datetime.to_string(i.date_start),
                    "cause": (i.cause or "")[:200],
                }
                for i in incidents
            ],
            "machines": [
                {
                    "id": m.id,
                    "name": m.name,
                    "status": (
                        self.env._("untested")
                        if not m.facts_date
                        else self.env._("error")
                        if m.facts_error
                        else self.env._("ok")
                    ),
                    "badge": (
                        "text-bg-secondary"
                        if not m.facts_date
                        else "text-bg-danger"
                        if m.facts_error
                        else "text-bg-success"
                    ),
                    "tested": fields.Datetime.to_string(m.facts_date) if m.facts_date else "",
                }
                for m in machines
            ],
            "failed_runs": [
                {
                    "id": r.id,
                    "name": r.name or r.command,
                    "machine": r.machine_id.name,
                    "date": fields.Datetime.to_string(r.date_end),
                }
                for r in failed
            ],
        }

    # --- Observation -----------------------------------------------------------------

    def _observe(self):
        """{instance id: Observation} for these instances, looked at concurrently
        (engine/observe.py).  A problem with one instance (or one machine) is that one's
        error, never the others'."""
        timeout = float(self._param("health_timeout", 5))
        targets, groups, broken = {}, collections.defaultdict(list), {}
        for instance in self:
            try:
                machine = instance.machine_id
                host = "localhost" if machine.kind == "local" else (machine.host or "").strip()
                item = {
                    "id": instance.id,
                    "kind": instance.kind,
                    "pid_file": instance._paths()[0],
                    "container": service.container_name(instance.id),
                }
            except Exception as error:
                broken[instance.id] = self.env._(
                    "This instance cannot be checked: %(error)s", error=error
                )
                continue
            targets[instance.id] = (host, instance.port, instance.health_url)
            groups[machine].append(item)
        machines = []
        for machine, items in groups.items():
            try:
                machines.append((None if machine.kind == "local" else machine._executor(), items))
            except (ExecError, UserError) as error:
                for item in items:
                    broken[item["id"]] = str(error)
                    targets.pop(item["id"], None)
        found = observe.observe(machines, targets, timeout)
        for instance_id, error in broken.items():
            found.setdefault(instance_id, observe.Observation()).error = error
        return found

    # --- Operate ---------------------------------------------------------------------

    @api.model
    def _cron_operate(self):
        """Look at every started instance.  While one is starting or restarting, the cron
        comes back every SETTLE_INTERVAL seconds (Odoo's cron progress: "more to do"), not a
        minute later, after quick passes: a service shows *Running* within seconds of
        answering."""
        if self.env.context.get("ir_cron_progress_id"):
            last = _LAST_PASS.get(self.env.cr.dbname, 0.0)
            wait = last + SETTLE_INTERVAL - time.monotonic()
            if wait > 0:  # nothing written yet in this transaction: no lock is held
                time.sleep(min(wait, SETTLE_INTERVAL))
        instances = self.search([("state", "!=", "stopped")])
        started = time.monotonic()
        instances._operate()
        _LAST_PASS[self.env.cr.dbname] = done = time.monotonic()
        settling = instances.filtered(lambda i: i.state in ("starting", "restarting"))
        # Only after a quick pass: Odoo runs up to 10 batches in one go, and a cron worker
        # is killed after limit_time_real_cron (120 s by default); a slow pass (a machine
        # that does not answer) waits for the next regular run.
        remaining = len(settling) if done - started < SETTLE_INTERVAL else 0
        self.env["ir.cron"]._notify_progress(done=len(instances), remaining=remaining)

    def _check_soon(self):
        """Have the operate cron look at the instances now (after a start, a restart)."""
        cron = self.env.ref("erplibre_devops.ir_cron_operate", raise_if_not_found=False)
        if cron:
            cron.sudo()._trigger()

    def _operate(self):
        """Look at these instances, update their state, incidents and restarts.

        Each instance is handled in a savepoint of its own: an exception is recorded on that
        instance (and logged), and the others are still checked and restarted."""
        instances = self.filtered(lambda i: i.state != "stopped")
        observations = instances._observe()
        now = fields.Datetime.now()
        for instance in instances:
            try:
                with self.env.cr.savepoint():
                    instance._apply_observation(observations[instance.id], now)
            except TransactionRollbackError:
                continue  # written by someone else meanwhile (a restart): the next pass sees it
            except Exception as error:
                message = self.env._(
                    "The operate pass failed on this instance: %(error)s", error=error
                )
                if not isinstance(error, UserError):
                    _logger.exception("Operating the instance %s failed", instance.id)
                elif instance.last_error != message:  # for the user to fix: said once
                    _logger.warning("Operating the instance %s: %s", instance.id, error)
                instance.sudo().write({"last_check_date": now, "last_error": message})
        return observations

    def _apply_observation(self, seen, now):
        self.ensure_one()
        state = self._next_state(seen, now)
        values = {
            "last_check_date": now,
            "last_http_status": seen.http_status,
            "last_latency_ms": seen.latency_ms,
            "last_error": False if state == "running" else (seen.error or False),
            "pid": seen.pid if seen.alive else 0,  # no stale pid beside "not running"
        }
        if state != self.state:
            values.update(state=state, state_date=now)
            # a change shows on the status strip now, not at the next monitor sample
            self.env["devops.instance.check"].sudo().create(self._sample(seen, now))
        self.sudo().write(values)
        self._handle_incident(seen)

    def _sample(self, seen, now):
        """devops.instance.check values of one observation (None: not started)."""
        values = {"instance_id": self.id, "date": now, "state": "stopped"}
        if seen is not None:
            values.update(
                state="up" if seen.healthy and seen.alive is not False else "down",
                http_status=seen.http_status,
                latency_ms=seen.latency_ms,
                cpu_percent=seen.cpu,
                memory_mb=seen.memory_mb,
                disk_percent=seen.disk,
                load=seen.load,
            )
        return values

    def _next_state(self, seen, now):
        """running: healthy; degraded: alive or listening but not healthy; down: gone.
        A starting instance gets STARTING_GRACE seconds before it counts as down."""
        if seen.alive is False:
            seen.error = (
                self.env._("The process is not running.")
                if self.kind == "process"
                else self.env._("The container is not running.")
            )
        if seen.healthy and seen.alive is not False:
            return "running"
        starting = (
            self.state in ("starting", "restarting")
            and self.state_date
            and (now - self.state_date).total_seconds() < STARTING_GRACE
        )
        if starting:
            return self.state  # not down yet: it is (re)starting
        if seen.alive is False or (seen.alive is None and not seen.port_open):
            return "down"
        return "degraded"

    def _handle_incident(self, seen):
        incident = self.incident_ids.filtered(lambda i: not i.date_end)[:1]
        if self.state == "running" and incident:
            incident._close(self.env._("Back up and healthy."))
            self.env["devops.alert"]._instance_event(self, "up", self.env._("Back up and healthy."))
        elif self.state == "down":
            if not incident:
                incident = (
                    self.env["devops.incident"]
                    .sudo()
                    .create(
                        {
                            "instance_id": self.id,
                            "cause": seen.error or self.env._("Down"),
                            "log_excerpt": self._log_excerpt(),
                        }
                    )
                )
                self.env["devops.alert"]._instance_event(self, "down", incident.cause)
            if self.auto_restart and not self.restart_given_up:
                self._auto_restart(incident)

    def _log_excerpt(self):
        """The end of the log now (for an incident), or why it cannot be read."""
        try:
            return self.log_tail(100) or False
        except UserError as error:
            return str(error)

    def _auto_restart(self, incident):
        since = fields.Datetime.now() - datetime.timedelta(hours=1)
        recent = (
            self.env["devops.exec"]
            .sudo()
            .search(
                [
                    ("instance_id", "=", self.id),
                    ("instance_action", "=", "auto_restart"),
                    ("create_date", ">=", since),
                ],
                order="create_date desc",
            )
        )
        if len(recent) >= self.restart_max_per_hour:
            note = self.env._(
                "Gave up: %(count)s automatic restarts in the last hour did not bring it back. "
                "Fix the cause, then start it again.",
                count=len(recent),
            )
            self.sudo().write({"restart_given_up": True, "last_error": note})
            incident.sudo().write({"note": f"{incident.note}\n{note}" if incident.note else note})
            self.env["devops.alert"]._instance_event(self, "gave_up", note)
            return
        if recent:
            wait = self.restart_backoff * 2 ** (len(recent) - 1)
            if fields.Datetime.now() < recent[0].create_date + datetime.timedelta(seconds=wait):
                return
        self.sudo()._queue("auto_restart", self._restart_argv())
        incident.sudo().write({"restart_count": incident.restart_count + 1})
        self._set_state("restarting")

    # --- Monitor ---------------------------------------------------------------------

    def _rotate_logs(self):
        """Rotate the logs of these process instances that grew too big, one command per
        machine; a machine that cannot be reached is logged and skipped (next time)."""
        keep, max_bytes = self._log_rotation()
        by_machine = collections.defaultdict(list)
        for instance in self.filtered(lambda i: i.kind == "process"):
            by_machine[instance.machine_id].append(instance._paths()[1])
        for machine, log_files in by_machine.items():
            try:
                ok, out = (
                    machine.sudo()
                    ._executor()
                    .read_stdout(service.rotate_logs_argv(log_files, keep, max_bytes), timeout=30)
                )
            except (ExecError, UserError) as error:
                ok, out = False, str(error)
            if not ok:
                _logger.warning("Rotating the logs on %s failed: %s", machine.name, out[-500:])

    @api.model
    def _cron_monitor(self):
        """One sample per active instance into devops.instance.check; old samples trimmed."""
        instances = self.search([("active", "=", True)])
        started = instances.filtered(lambda i: i.state != "stopped")
        observations = started._observe() if started else {}
        now = fields.Datetime.now()
        samples = [instance._sample(observations.get(instance.id), now) for instance in instances]
        self.env["devops.instance.check"].sudo().create(samples)
        started._rotate_logs()
        self.env["devops.instance.check"]._trim(int(self._param("check_retention_days", 30)))
        self.env["devops.workspace"]._cron_refresh_git()


def _command_arg(env, name, value):
    """A command argument: None stays None (the default), "" means none."""
    if value is None:
        return None
    if value == "" or value is False:
        return ""
    return arg_text(env, name, value, max_length=10000, single_line=False)
