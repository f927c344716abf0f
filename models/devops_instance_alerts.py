"""The alert side of ``devops.instance``: who else hears about it, maintenance windows, and
the daily check of its TLS certificate.

Kept apart from models/devops_instance.py (the instance's lifecycle, operate and monitor) so
that alerts stay one subsystem with its own files: the operate code only calls
``devops.alert._instance_event`` where an instance goes down, comes back or is given up.
"""

import datetime

from odoo import api, fields, models
from odoo.exceptions import AccessError, ValidationError

from ..engine import alerts
from .devops_alert import MANAGER, emails_problem, translate_problem

TLS_TIMEOUT = 10


class DevopsInstance(models.Model):
    _inherit = "devops.instance"

    alert_mute = fields.Boolean(
        string="Mute alerts",
        help="Record this instance's alerts without sending them (no notification, e-mail "
        "or webhook).",
    )
    alert_emails = fields.Char(
        string="Also e-mail",
        help="Addresses that get this instance's alerts besides the recipients of the "
        "settings, separated by commas.",
    )
    alert_webhooks = fields.Text(
        string="Also post to",
        groups=MANAGER,
        help="Webhooks that get this instance's alerts besides those of the settings, one per "
        "line: 'format URL' (format: json, slack, mattermost or discord), or just a URL for "
        "generic JSON.",
    )
    alert_ids = fields.One2many("devops.alert", "instance_id", string="Alerts")
    maintenance_window_ids = fields.One2many(
        "devops.maintenance.window", "instance_id", string="Maintenance windows"
    )
    in_maintenance = fields.Boolean(
        compute="_compute_in_maintenance", help="A maintenance window is under way."
    )
    tls_expiry_date = fields.Datetime(string="TLS certificate expires", readonly=True, copy=False)
    tls_checked_date = fields.Datetime(string="TLS checked", readonly=True, copy=False)
    tls_problem = fields.Char(
        string="TLS problem",
        readonly=True,
        copy=False,
        help="Why the certificate is not trusted, or could not be read, at the last check.",
    )

    def _compute_in_maintenance(self):
        under_way = self._under_maintenance(fields.Datetime.now())
        for instance in self:
            instance.in_maintenance = instance.id in under_way

    def _in_maintenance(self, when=None):
        """Whether a maintenance window of this instance covers ``when`` (default: now)."""
        self.ensure_one()
        return self.id in self._under_maintenance(when or fields.Datetime.now())

    def _under_maintenance(self, when):
        """The ids of these instances that a maintenance window covers at ``when``."""
        Window = self.env["devops.maintenance.window"].sudo()
        return set(Window._windows(self.ids, when, when + datetime.timedelta(seconds=1)))

    @api.constrains("alert_emails")
    def _check_alert_emails(self):
        for instance in self:
            problem = emails_problem(self.env, instance.alert_emails)
            if problem:
                raise ValidationError(problem)

    @api.constrains("alert_webhooks")
    def _check_alert_webhooks(self):
        for instance in self.sudo():
            problems = alerts.parse_webhooks(instance.alert_webhooks)[1]
            if problems:
                raise ValidationError(translate_problem(self.env, problems[0]))

    def action_send_test_alert(self):
        """Send a test alert through every channel of this instance (managers), even when
        its alerts are muted or it is in maintenance: to check the settings."""
        self._ensure_one_existing()
        if not self.env.user.has_group(MANAGER):
            raise AccessError(self.env._("Only DevOps managers send test alerts."))
        alert = self.env["devops.alert"]._instance_event(
            self,
            "test",
            self.env._(
                "A test alert sent by %(user)s: this channel works.", user=self.env.user.name
            ),
        )
        channels = alert.delivery_ids.mapped("channel")
        message = self.env._(
            "Test alert queued (notifications: %(notifications)s, e-mails: %(emails)s, "
            "webhooks: %(webhooks)s). See Operate, Alerts for how they went.",
            notifications=channels.count("notification"),
            emails=channels.count("email"),
            webhooks=channels.count("webhook"),
        )
        return self.machine_id._notify(message, "info")

    # --- TLS certificates -------------------------------------------------------------------

    @api.model
    def _cron_check_tls(self):
        """Read the certificate of every active instance with an https URL (concurrently)
        and alert when it expires within the setting's days, or has expired: once per
        certificate and per stage (expiring, expired), not every day."""
        instances = self.search([("url", "=ilike", "https://%")])
        targets = {}
        for instance in instances:
            target = alerts.tls_target(instance.url)
            if target:
                targets[instance.id] = target
        found = alerts.certificates(targets, timeout=TLS_TIMEOUT)
        try:
            days = max(1, int(self._param("alert_tls_days", 14)))
        except ValueError:
            days = 14
        now = fields.Datetime.now()
        for instance in instances.filtered(lambda i: i.id in found):
            with self.env.cr.savepoint():
                instance._apply_certificate(found[instance.id], days, now)
        stale = self.search([("tls_checked_date", "!=", False), ("id", "not in", list(found))])
        stale.sudo().write(
            {"tls_expiry_date": False, "tls_checked_date": False, "tls_problem": False}
        )

    def _apply_certificate(self, found, days, now):
        self.ensure_one()
        if isinstance(found, alerts.TLSCheckError):
            self.sudo().write({"tls_checked_date": now, "tls_problem": str(found)})
            return
        self.sudo().write(
            {
                "tls_expiry_date": found.not_after_naive,
                "tls_checked_date": now,
                "tls_problem": found.problem or False,
            }
        )
        left = found.days_left(now.replace(tzinfo=datetime.timezone.utc))
        if left > days:
            return
        key = f"tls:{found.fingerprint}:{'expired' if left <= 0 else 'expiring'}"
        Alert = self.env["devops.alert"].sudo()
        told = Alert.search_count(
            [("instance_id", "=", self.id), ("dedup_key", "=", key), ("silenced", "=", False)],
            limit=1,
        )
        if not told:
            Alert._instance_event(
                self, "tls_expiry", Alert._tls_message(self, found, now), dedup_key=key
            )
