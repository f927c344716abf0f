from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError

from ..engine import facts, ssh, validation
from ..engine.executor import ExecError
from ..engine.local import LocalExecutor
from .utils import arg_text, count_by, form_action, open_action

MANAGER = "erplibre_devops.group_devops_manager"
SECRET_KINDS = ("ssh_private_key", "ssh_password")


class DevopsMachine(models.Model):
    """A computer that runs workspaces and instances: this one, or one reached over SSH."""

    _name = "devops.machine"
    _inherit = ["devops.input.mixin", "devops.secret.mixin"]
    _devops_unique_name = True
    _description = "DevOps Machine"
    _order = "name, id"

    name = fields.Char(required=True)
    kind = fields.Selection(
        [("local", "This machine"), ("ssh", "SSH")],
        required=True,
        default="ssh",
        help="'This machine' runs commands as the Odoo server's own user; "
        "'SSH' runs them on a remote host through SSH.",
    )
    host = fields.Char(help="Host name or IP address of an SSH machine.")
    port = fields.Integer(default=22, help="SSH port, from 1 to 65535.")
    ssh_user = fields.Char(string="SSH User", help="Login on the remote host.")
    active = fields.Boolean(default=True)
    workspace_ids = fields.One2many("devops.workspace", "machine_id", string="Workspaces")
    workspace_count = fields.Integer(compute="_compute_workspace_count")
    exec_count = fields.Integer(string="Runs", compute="_compute_exec_count")

    # Secrets: write-only.  They always read back empty; the value lives encrypted in
    # devops.secret, which nobody can read through the UI or RPC.
    ssh_private_key = fields.Text(
        string="SSH Private Key",
        compute="_compute_secrets",
        inverse="_inverse_ssh_private_key",
        groups=MANAGER,
        help="OpenSSH or PEM private key (ed25519, ecdsa or rsa). Write-only: it is never "
        "shown again. Put its public key in the server's ~/.ssh/authorized_keys.",
    )
    ssh_password = fields.Char(
        string="SSH Password",
        compute="_compute_secrets",
        inverse="_inverse_ssh_password",
        groups=MANAGER,
        help="Login password, or the passphrase of an encrypted private key. Write-only.",
    )
    ssh_private_key_set = fields.Boolean(string="Private key set", compute="_compute_secrets")
    ssh_password_set = fields.Boolean(string="Password set", compute="_compute_secrets")

    host_key = fields.Char(
        help="The server's public host key as ssh-keyscan prints it, such as "
        "'ssh-ed25519 AAAA…'. Connections are refused when the server shows another key.",
    )
    host_key_fingerprint = fields.Char(compute="_compute_host_key_fingerprint")
    host_key_offered = fields.Char(
        readonly=True,
        copy=False,
        help="The key the server offered at the last test, waiting for a manager to accept it.",
    )
    host_key_offered_fingerprint = fields.Char(readonly=True, copy=False)

    facts_date = fields.Datetime(string="Tested on", readonly=True, copy=False)
    facts_error = fields.Text(string="Last test error", readonly=True, copy=False)
    connection_state = fields.Selection(
        [("ok", "OK"), ("error", "Error"), ("untested", "Untested")],
        string="Connection",
        compute="_compute_connection_state",
        store=True,
        help="How the last Test connection went.",
    )
    os_name = fields.Char(string="Operating system", readonly=True, copy=False)
    kernel = fields.Char(readonly=True, copy=False)
    cpu_count = fields.Integer(string="CPUs", readonly=True, copy=False)
    memory_mb = fields.Integer(string="Memory (MB)", readonly=True, copy=False)
    disk_free_mb = fields.Integer(string="Free disk (MB)", readonly=True, copy=False)
    git_version = fields.Char(readonly=True, copy=False)
    docker_version = fields.Char(readonly=True, copy=False)

    _sql_constraints = [
        ("name_unique", "unique(name)", "Another machine already has this name."),
    ]

    @api.depends("workspace_ids")
    def _compute_workspace_count(self):
        counts = count_by(self, "devops.workspace", "machine_id")
        for machine in self:
            machine.workspace_count = counts.get(machine.id, 0)

    def _compute_exec_count(self):
        counts = count_by(self, "devops.exec", "machine_id")
        for machine in self:
            machine.exec_count = counts.get(machine.id, 0)

    @api.depends("facts_date", "facts_error")
    def _compute_connection_state(self):
        for machine in self:
            if not machine.facts_date:
                machine.connection_state = "untested"
            else:
                machine.connection_state = "error" if machine.facts_error else "ok"

    def _compute_secrets(self):
        names = self._secret_names()
        for machine in self:
            machine.ssh_private_key = False
            machine.ssh_password = False
            machine.ssh_private_key_set = "ssh_private_key" in names.get(machine.id, ())
            machine.ssh_password_set = "ssh_password" in names.get(machine.id, ())

    def _inverse_ssh_private_key(self):
        for machine in self:
            machine._set_secrets({"ssh_private_key": machine.ssh_private_key})

    def _inverse_ssh_password(self):
        for machine in self:
            machine._set_secrets({"ssh_password": machine.ssh_password})

    def action_clear_secrets(self):
        """Forget the stored private key and password."""
        self._check_ids()
        for machine in self:
            machine._set_secrets(dict.fromkeys(SECRET_KINDS, False))

    def _set_secrets(self, values):
        self.ensure_one()
        if not self.env.su and not self.env.user.has_group(MANAGER):
            raise AccessError(self.env._("Only DevOps managers can set a machine's secrets."))
        for kind, value in values.items():
            if value and not isinstance(value, str):
                raise ValidationError(self.env._("A secret must be text."))
            if kind == "ssh_private_key" and value:
                value = value.strip() + "\n"
                try:
                    ssh.load_private_key(value, self._secret_values().get("ssh_password"))
                except ssh.AuthFailed as error:
                    raise ValidationError(str(error)) from error
            self._secret_store(kind, value)

    @api.depends("host_key")
    def _compute_host_key_fingerprint(self):
        for machine in self:
            machine.host_key_fingerprint = False
            if machine.host_key:
                try:
                    key = ssh.parse_host_key(machine.host_key)
                except ValueError:
                    continue
                machine.host_key_fingerprint = ssh.fingerprint(key)

    @api.constrains("kind", "host", "port", "ssh_user")
    def _check_connection(self):
        for machine in self:
            if machine.kind == "ssh" and not (machine.host or "").strip():
                raise ValidationError(
                    self.env._(
                        "The SSH machine '%(name)s' needs a host: "
                        "enter its host name or IP address.",
                        name=machine.name,
                    )
                )
            problem = (
                (machine.kind == "ssh" and validation.check_host(machine.host))
                or validation.check_port(machine.port)
                or validation.check_user_name(machine.ssh_user)
            )
            if problem:
                raise ValidationError(self.env._(problem.template, **problem.params))

    @api.constrains("host_key")
    def _check_host_key(self):
        for machine in self:
            if machine.host_key:
                try:
                    ssh.parse_host_key(machine.host_key)
                except ValueError as error:
                    raise ValidationError(
                        self.env._("The host key is not valid: %(error)s", error=str(error))
                    ) from error

    @api.model_create_multi
    def create(self, vals_list):
        machines = super().create(vals_list)
        machines._forget_written_secrets(vals_list)
        return machines

    def _forget_written_secrets(self, vals_list):
        """Secrets are write-only: once stored, what was written leaves the cache too, so
        that the answer to a save (the form's web_save reads the record back) never echoes
        it and the form's field shows empty again, with "Private key set" up to date."""
        if any(kind in vals for vals in vals_list for kind in SECRET_KINDS):
            self.invalidate_recordset(
                ["ssh_private_key", "ssh_password", "ssh_private_key_set", "ssh_password_set"]
            )

    def write(self, vals):
        if any(key in vals for key in ("host", "port")) and "host_key" not in vals:
            # Another server: the pinned key and the offered one no longer apply.
            moved = self.filtered(
                lambda m: (
                    ("host" in vals and m.host != vals["host"])
                    or ("port" in vals and m.port != vals["port"])
                )
            )
            if moved:
                super(DevopsMachine, moved).write({"host_key": False, "host_key_offered": False})
        result = super().write(vals)
        self._forget_written_secrets([vals])
        return result

    # --- Engine glue ----------------------------------------------------------------

    def _ssh_target(self):
        self.ensure_one()
        secrets = self._secret_values()
        timeout = float(
            self.env["ir.config_parameter"].sudo().get_param("erplibre_devops.ssh_timeout", 10)
        )
        return ssh.SSHTarget(
            host=(self.host or "").strip(),
            port=self.port,
            user=self.ssh_user or "",
            host_key=self.host_key or "",
            private_key=secrets.get("ssh_private_key", ""),
            password=secrets.get("ssh_password", ""),
            connect_timeout=timeout,
        )

    def _signature(self):
        """What identifies where this machine's commands go."""
        self.ensure_one()
        return f"{self.kind}:{self.host or ''}:{self.port or ''}:{self.ssh_user or ''}"

    def _executor(self):
        """The engine executor that reaches this machine."""
        self.ensure_one()
        if self.kind == "local":
            return LocalExecutor()
        return ssh.SSHExecutor(self._ssh_target())

    def action_test_connection(self):
        """Connect, record the machine's facts, and say how it went.

        Bounded by the SSH timeout (Settings) and 20 s for the facts script."""
        self._ensure_one_existing()
        self.check_access("read")
        values = {"facts_date": fields.Datetime.now(), "facts_error": False}
        try:
            found = facts.gather(self._executor())
        except ssh.HostKeyUnknown as error:
            self.sudo().write(
                {
                    **values,
                    "facts_error": str(error),
                    "host_key_offered": error.key_line,
                    "host_key_offered_fingerprint": error.fingerprint,
                }
            )
            return self._notify(
                self.env._(
                    "First connection to %(name)s: check that the server's host key "
                    "fingerprint is %(fingerprint)s, then accept it.",
                    name=self.name,
                    fingerprint=error.fingerprint,
                ),
                "warning",
            )
        except ExecError as error:
            self.sudo().write({**values, "facts_error": str(error)})
            return self._notify(str(error), "danger")
        self.sudo().write(
            {
                **values,
                "host_key_offered": False,
                "host_key_offered_fingerprint": False,
                "os_name": found["os"],
                "kernel": found["kernel"],
                "cpu_count": found["cpus"],
                "memory_mb": found["memory_mb"],
                "disk_free_mb": found["disk_free_mb"],
                "git_version": found["git_version"],
                "docker_version": found["docker_version"],
            }
        )
        return self._notify(
            self.env._("%(name)s answers: %(os)s.", name=self.name, os=found["os"]), "success"
        )

    def _notify(self, message, kind):
        """A notification of what a button found, then the form reloads its record.

        Never sticky: what it says also stays on the form (the test error, the host key to
        accept with its Accept button, the git problem, the instance's state), so nothing
        needs it to outlive its page.  The next action closes (a dialog, else nothing) and so
        reloads the record the button was on, rather than the whole view (soft_reload)."""
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "message": message,
                "type": kind,
                "sticky": False,
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    def action_accept_host_key(self, fingerprint=None):
        """Pin the key the server offered at the last test (managers).

        ``fingerprint`` (or the context key ``devops_host_key_fingerprint``, which the form's
        button fills from what it shows) must be the fingerprint the manager checked: when
        another test saw another key since, nothing is pinned."""
        self._ensure_one_existing()
        fingerprint = arg_text(
            self.env,
            self.env._("The fingerprint"),
            fingerprint or self.env.context.get("devops_host_key_fingerprint"),
        )
        if not self.host_key_offered:
            raise UserError(self.env._("No host key is waiting: test the connection first."))
        if not fingerprint:
            raise UserError(
                self.env._(
                    "Give the fingerprint you checked (%(offered)s) to accept the host key.",
                    offered=self.host_key_offered_fingerprint,
                )
            )
        if fingerprint != self.host_key_offered_fingerprint:
            raise UserError(
                self.env._(
                    "The server offered another key since you looked (%(offered)s, not "
                    "%(seen)s): nothing was accepted. Check the new fingerprint on the "
                    "server before you accept it.",
                    offered=self.host_key_offered_fingerprint,
                    seen=fingerprint,
                )
            )
        self.write({"host_key": self.host_key_offered})
        self.sudo().write({"host_key_offered": False, "host_key_offered_fingerprint": False})
        return self.action_test_connection()

    def action_open_host_key_wizard(self):
        """The dialog that shows the fingerprint the server offered, and accepts exactly
        that one (managers)."""
        self._ensure_one_existing()
        if not self.host_key_offered:
            raise UserError(self.env._("No host key is waiting: test the connection first."))
        wizard = self.env["devops.machine.host.key.wizard"].create({"machine_id": self.id})
        return form_action(wizard, self.env._("Accept the host key of %(name)s", name=self.name))

    def action_forget_host_key(self):
        self._ensure_one_existing()
        self.write({"host_key": False})

    def action_view_workspaces(self):
        self._ensure_one_existing()
        return open_action(
            self.env,
            "erplibre_devops.action_workspace",
            [("machine_id", "=", self.id)],
            {"default_machine_id": self.id},
        )

    def action_view_execs(self):
        self._ensure_one_existing()
        return open_action(
            self.env, "erplibre_devops.action_exec", [("machine_id", "=", self.id)], {}
        )

    def action_open_exec_wizard(self):
        self._ensure_one_existing()
        action = self.env["ir.actions.act_window"]._for_xml_id("erplibre_devops.action_exec_wizard")
        action["context"] = {"default_machine_id": self.id}
        return action

    # --- Automation API ---------------------------------------------------------------

    def exec_command(self, command, cwd=None, timeout=None, stage=None):
        """Queue ``command`` on this machine; returns the new devops.exec id.

        ``command``: an argv list (run as is), or a string run by ``/bin/sh -c``.
        ``cwd``: absolute directory; ``timeout``: seconds (default from Settings);
        ``stage``: a devops.stage id or code, such as "deploy".  On a machine of kind
        'This machine', the caller needs the group "Run commands on the Odoo server"."""
        self._ensure_one_existing()
        return self.env["devops.exec"]._enqueue(
            self, command, cwd=cwd, timeout=timeout, stage=stage
        )
