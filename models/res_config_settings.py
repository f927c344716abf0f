import shlex

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..engine import alerts
from ..engine.validation import CONTROL
from .devops_alert import emails_problem, translate_problem
from .devops_exec import MAX_TIMEOUT

WEBHOOKS_PARAM = "erplibre_devops.alert_webhooks"
AUTO_RESTART_PARAM = "erplibre_devops.auto_restart"
CRONS = {
    "devops_operate_interval": "erplibre_devops.ir_cron_operate",
    "devops_monitor_interval": "erplibre_devops.ir_cron_monitor",
    "devops_follow_interval": "erplibre_devops.ir_cron_follow",
}


# Read by administrators only (see get_values).
PRIVATE_SETTINGS = ("devops_alert_webhooks", "devops_alert_emails", "devops_pip_options")


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    devops_plan_monitor_hours = fields.Float(
        string="Hours in production before Monitor",
        config_parameter="erplibre_devops.plan_monitor_hours",
        default=24,
    )
    devops_dora_failure_hours = fields.Float(
        string="Failure window (hours)",
        config_parameter="erplibre_devops.dora_failure_hours",
        default=24,
    )
    devops_command_timeout = fields.Integer(
        string="Default command timeout (seconds)",
        config_parameter="erplibre_devops.command_timeout",
        default=600,
        help="How long a command may run before it is stopped, unless its run says otherwise.",
    )
    devops_runner_workers = fields.Integer(
        string="Parallel runs",
        config_parameter="erplibre_devops.runner_workers",
        default=4,
        help="How many commands one Odoo server runs at the same time.",
    )
    devops_exec_retention_days = fields.Integer(
        string="Keep runs (days)",
        config_parameter="erplibre_devops.exec_retention_days",
        default=90,
        help="Finished runs older than this are deleted every day; 0 keeps them forever.",
    )
    devops_ssh_timeout = fields.Integer(
        string="SSH connection timeout (seconds)",
        config_parameter="erplibre_devops.ssh_timeout",
        default=10,
    )
    devops_operate_interval = fields.Integer(string="Check instances every (minutes)", default=1)
    devops_monitor_interval = fields.Integer(string="Record a sample every (minutes)", default=5)
    devops_automatic_tests_local = fields.Boolean(
        string="Automatic tests on This machine",
        config_parameter="erplibre_devops.automatic_tests_local",
        help="Let followed branches and push webhooks run tests of workspaces on the Odoo "
        "server's own machine: whoever can push to those branches then runs code as the "
        "Odoo server's system user (its configuration, its database). Prefer an SSH "
        "machine with a dedicated account for automatic tests.",
    )
    devops_follow_interval = fields.Integer(
        string="Check followed branches every (minutes)", default=1
    )
    devops_health_timeout = fields.Integer(
        string="Health check timeout (seconds)",
        config_parameter="erplibre_devops.health_timeout",
        default=5,
    )
    devops_check_retention_days = fields.Integer(
        string="Keep samples (days)",
        config_parameter="erplibre_devops.check_retention_days",
        default=30,
    )
    # Stored by hand as "True"/"False": with config_parameter, an unticked box deletes the
    # parameter, and the default (ticked) comes back.
    devops_auto_restart = fields.Boolean(string="Restart instances that go down", default=True)
    devops_restart_max_per_hour = fields.Integer(
        string="Restarts per hour at most",
        config_parameter="erplibre_devops.restart_max_per_hour",
        default=3,
    )
    devops_restart_backoff = fields.Integer(
        string="Restart backoff (seconds)",
        config_parameter="erplibre_devops.restart_backoff",
        default=30,
    )

    devops_log_keep = fields.Integer(
        string="Log files kept",
        config_parameter="erplibre_devops.log_keep",
        default=5,
        help="An instance's log and this many minus one older files.",
    )
    devops_log_max_mb = fields.Integer(
        string="Log file size (MB)",
        config_parameter="erplibre_devops.log_max_mb",
        default=10,
        help="A log this big is rotated (at the next sample, or the next start).",
    )
    devops_alert_email_to = fields.Selection(
        [
            ("managers", "The DevOps managers"),
            ("list", "These addresses"),
            ("none", "Nobody"),
        ],
        string="Send alert e-mails to",
        config_parameter="erplibre_devops.alert_email_to",
        default="managers",
        help="Who gets the alerts of every instance by e-mail (besides each instance's own "
        "addresses), through the outgoing mail servers of Settings, Technical.",
    )
    devops_alert_emails = fields.Char(
        string="Alert e-mail addresses",
        groups="base.group_system",
        config_parameter="erplibre_devops.alert_emails",
        help="Separated by commas.",
    )
    # A list of lines: Odoo's config_parameter takes no Text field (get_values, set_values).
    devops_alert_webhooks = fields.Text(
        string="Alert webhooks",
        groups="base.group_system",
        help="Webhooks that get the alerts of every instance, one per line: 'format URL' "
        "(format: json, slack, mattermost or discord), or just a URL for generic JSON.",
    )
    devops_alert_attempts = fields.Integer(
        string="Tries per alert e-mail or webhook",
        config_parameter="erplibre_devops.alert_attempts",
        default=5,
        help="A failed delivery is tried again after 1, 2, 4, 8… minutes, this many times in "
        "all; then it is failed.",
    )
    devops_alert_tls_days = fields.Integer(
        string="Warn about TLS certificates expiring within (days)",
        config_parameter="erplibre_devops.alert_tls_days",
        default=14,
    )

    devops_pip_options = fields.Char(
        string="pip options of builds",
        groups="base.group_system",
        config_parameter="erplibre_devops.pip_options",
        help="Added to every pip install of a build, such as --no-index --find-links "
        "/srv/wheels (offline) or --index-url https://pypi.example.com/simple.",
    )
    devops_build_keep = fields.Integer(
        string="Builds kept per workspace",
        config_parameter="erplibre_devops.build_keep",
        default=5,
        help="Older builds and their virtualenvs are removed, except those an instance uses.",
    )

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        return values if self.env.su or self.env.is_system() else _public(values)

    @api.model
    def get_values(self):
        values = super().get_values()
        for field, xmlid in CRONS.items():
            cron = self.env.ref(xmlid, raise_if_not_found=False)
            if cron:
                values[field] = cron.sudo().interval_number
        params = self.env["ir.config_parameter"].sudo()
        values["devops_alert_webhooks"] = params.get_param(WEBHOOKS_PARAM, "")
        values["devops_auto_restart"] = params.get_param(AUTO_RESTART_PARAM, "True") in (
            "1",
            "True",
        )
        return values if self.env.su or self.env.is_system() else _public(values)

    def set_values(self):
        result = super().set_values()
        for field, xmlid in CRONS.items():
            cron = self.env.ref(xmlid, raise_if_not_found=False)
            if cron:
                cron.sudo().write({"interval_number": self[field], "interval_type": "minutes"})
        params = self.env["ir.config_parameter"].sudo()
        params.set_param(WEBHOOKS_PARAM, (self.devops_alert_webhooks or "").strip() or False)
        params.set_param(AUTO_RESTART_PARAM, str(bool(self.devops_auto_restart)))
        return result

    @api.constrains(
        "devops_command_timeout",
        "devops_runner_workers",
        "devops_exec_retention_days",
        "devops_ssh_timeout",
        "devops_operate_interval",
        "devops_monitor_interval",
        "devops_follow_interval",
        "devops_health_timeout",
        "devops_check_retention_days",
        "devops_restart_max_per_hour",
        "devops_restart_backoff",
        "devops_log_keep",
        "devops_log_max_mb",
        "devops_build_keep",
        "devops_pip_options",
    )
    def _check_devops_settings(self):
        for settings in self:
            if not 1 <= settings.devops_command_timeout <= MAX_TIMEOUT:
                raise ValidationError(
                    self.env._(
                        "The default command timeout must be from 1 to %(max)s seconds (7 days).",
                        max=MAX_TIMEOUT,
                    )
                )
            if not 1 <= settings.devops_runner_workers <= 64:
                raise ValidationError(self.env._("Parallel runs must be from 1 to 64."))
            if settings.devops_exec_retention_days < 0 or settings.devops_check_retention_days < 0:
                raise ValidationError(self.env._("Keep runs: use 0 (forever) or more days."))
            if not 1 <= settings.devops_ssh_timeout <= 300:
                raise ValidationError(
                    self.env._("The SSH connection timeout must be from 1 to 300 seconds.")
                )
            if min(settings.devops_operate_interval, settings.devops_monitor_interval,
                   settings.devops_follow_interval) < 1:  # fmt: skip
                raise ValidationError(self.env._("Check intervals are at least 1 minute."))
            if not 1 <= settings.devops_health_timeout <= 120:
                raise ValidationError(
                    self.env._("The health check timeout must be from 1 to 120 seconds.")
                )
            if settings.devops_restart_max_per_hour < 0 or settings.devops_restart_backoff < 0:
                raise ValidationError(self.env._("Restart limits cannot be negative."))
            if not 1 <= settings.devops_log_keep <= 100:
                raise ValidationError(self.env._("Log files kept must be from 1 to 100."))
            if not 1 <= settings.devops_log_max_mb <= 10000:
                raise ValidationError(self.env._("The log file size must be from 1 to 10000 MB."))
            if not 1 <= settings.devops_build_keep <= 1000:
                raise ValidationError(self.env._("Builds kept must be from 1 to 1000."))
            options = settings.devops_pip_options or ""
            if CONTROL.search(options):
                raise ValidationError(self.env._("pip options are one line."))
            try:
                shlex.split(options)
            except ValueError as error:
                raise ValidationError(
                    self.env._("The pip options do not parse: %(error)s", error=error)
                ) from error

    @api.constrains(
        "devops_alert_email_to",
        "devops_alert_emails",
        "devops_alert_webhooks",
        "devops_alert_attempts",
        "devops_alert_tls_days",
    )
    def _check_devops_alert_settings(self):
        for settings in self:
            problem = emails_problem(self.env, settings.devops_alert_emails)
            if problem:
                raise ValidationError(problem)
            if settings.devops_alert_email_to == "list" and not settings.devops_alert_emails:
                raise ValidationError(self.env._("Enter the addresses that get the alert e-mails."))
            problems = alerts.parse_webhooks(settings.devops_alert_webhooks)[1]
            if problems:
                raise ValidationError(translate_problem(self.env, problems[0]))
            if not 1 <= settings.devops_alert_attempts <= 20:
                raise ValidationError(self.env._("Tries per alert must be from 1 to 20."))
            if not 1 <= settings.devops_alert_tls_days <= 365:
                raise ValidationError(
                    self.env._("The TLS certificate warning must be from 1 to 365 days ahead.")
                )


def _public(values):
    """``values`` without the private settings: get_values and default_get are open to every
    user over RPC (Odoo reads the parameters as superuser), and the webhook URLs carry secret
    tokens, the addresses are personal data. Only administrators edit settings anyway."""
    return {name: value for name, value in values.items() if name not in PRIVATE_SETTINGS}
