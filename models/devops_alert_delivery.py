import datetime
import email.utils
import json
import logging
import urllib.parse

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL
from odoo.tools.sql import create_index

from ..engine import alerts

_logger = logging.getLogger(__name__)

MANAGER = "erplibre_devops.group_devops_manager"
WEBHOOK_TIMEOUT = 10


class DevopsAlertDelivery(models.Model):
    """One message of an alert to one recipient: a user's notification, an e-mail to one
    address, a POST to one webhook — the delivery log, with its tries and their errors.

    E-mails and webhooks are sent by the cron "DevOps: send alerts" (``devops.alert``
    ``_cron_send``); notifications wait until their user's web client asks for them."""

    _name = "devops.alert.delivery"
    _inherit = ["devops.input.mixin"]
    _description = "DevOps Alert Delivery"
    _order = "id desc"
    _rec_name = "target"

    # Empty for a notification of its own (a test run that a user's commit broke).
    alert_id = fields.Many2one("devops.alert", ondelete="cascade", index=True, readonly=True)
    instance_id = fields.Many2one(related="alert_id.instance_id", store=True, index=True)
    kind = fields.Selection(related="alert_id.kind")
    channel = fields.Selection(
        [("notification", "Notification"), ("email", "E-mail"), ("webhook", "Webhook")],
        required=True,
        readonly=True,
    )
    target = fields.Char(readonly=True, help="The user, the e-mail address or the webhook URL.")
    user_id = fields.Many2one("res.users", readonly=True, help="Who is notified (notifications).")
    payload_format = fields.Selection(
        [("json", "Generic JSON"), ("slack", "Slack / Mattermost"), ("discord", "Discord")],
        readonly=True,
    )
    payload = fields.Text(readonly=True, help="What is sent (JSON).")
    state = fields.Selection(
        [("pending", "Pending"), ("sent", "Sent"), ("failed", "Failed")],
        required=True,
        default="pending",
        readonly=True,
    )
    attempts = fields.Integer(readonly=True)
    last_error = fields.Text(readonly=True)
    next_try = fields.Datetime(readonly=True)
    date_sent = fields.Datetime(string="Sent on", readonly=True)

    def init(self):
        # The send cron's claims, and the web client's question "anything new for me?".
        create_index(
            self.env.cr,
            "devops_alert_delivery_due_idx",
            self._table,
            ["next_try", "id"],
            where="state = 'pending' AND channel != 'notification'",
        )
        create_index(
            self.env.cr,
            "devops_alert_delivery_unseen_idx",
            self._table,
            ["user_id", "id"],
            where="state = 'pending' AND channel = 'notification'",
        )

    # --- Sending (the cron) ------------------------------------------------------------------

    @api.model
    def _claim(self):
        """The next due e-mail or webhook, locked for this transaction, or nothing."""
        self.flush_model(["state", "channel", "next_try"])
        self.env.cr.execute(
            SQL(
                "SELECT id FROM devops_alert_delivery"
                " WHERE state = 'pending' AND channel != 'notification' AND next_try <= %s"
                " ORDER BY next_try, id LIMIT 1 FOR UPDATE SKIP LOCKED",
                fields.Datetime.now(),
            )
        )
        row = self.env.cr.fetchone()
        return self.browse(row[0]) if row else self.browse()

    def _send(self, attempts_max):
        """One try; records the result.  A failure is retried with a backoff until
        ``attempts_max`` tries, then the delivery is failed."""
        self.ensure_one()
        error = None
        try:
            with self.env.cr.savepoint():
                if self.channel == "webhook":
                    alerts.post_json(self.target, json.loads(self.payload), WEBHOOK_TIMEOUT)
                elif self.channel == "email":
                    self._send_email()
        except Exception as exc:  # whatever the receiver did: recorded here, tried again
            error = exc
        now = fields.Datetime.now()
        attempts = self.attempts + 1
        if error is None:
            self.write(
                {
                    "state": "sent",
                    "attempts": attempts,
                    "date_sent": now,
                    "next_try": False,
                    "last_error": False,
                }
            )
            return True
        reason = str(error) or error.__class__.__name__
        if isinstance(error, UserError) and error.args:
            reason = error.args[0]
        if self.channel == "email" and not self.env["ir.mail_server"].sudo().search_count([]):
            reason = self.env._(
                "%(error)s — no outgoing mail server is set up (Settings, Technical, Outgoing "
                "Mail Servers), so Odoo tried the SMTP server of its configuration file "
                "(localhost:25 by default).",
                error=reason,
            )
        if attempts >= attempts_max:
            self.write({"state": "failed", "attempts": attempts, "last_error": reason})
            _logger.warning(
                "Alert delivery %s (%s to %s) failed after %s tries: %s",
                self.id,
                self.channel,
                self._target_host(),
                attempts,
                reason,
            )
        else:
            delay = datetime.timedelta(seconds=alerts.retry_delay(attempts))
            self.write({"attempts": attempts, "last_error": reason, "next_try": now + delay})
            _logger.info(
                "Alert delivery %s (%s to %s) failed, tried again in %s: %s",
                self.id,
                self.channel,
                self._target_host(),
                delay,
                reason,
            )
        return False

    def _target_host(self):
        """The target for a log line: a webhook's host only (its path is often its secret)."""
        if self.channel == "webhook":
            try:
                return urllib.parse.urlsplit(self.target).hostname or "?"
            except ValueError:
                return "?"
        return self.target

    def _send_email(self):
        content = json.loads(self.payload)
        MailServer = self.env["ir.mail_server"].sudo()
        sender = (
            MailServer._get_default_from_address()
            or self.env.company.email
            or "erplibre-devops@localhost"
        )
        message = MailServer.build_email(
            email.utils.formataddr(("ERPLibre DevOps", sender)),
            self.target,
            content["subject"],
            content["body"],
            headers={"X-ERPLibre-DevOps-Alert": self.alert_id.kind},
        )
        MailServer.send_email(message)

    # --- Actions -----------------------------------------------------------------------------

    def action_retry(self):
        """Send a failed e-mail or webhook again, now (managers)."""
        self._ensure_one_existing()
        if not self.env.user.has_group(MANAGER):
            raise AccessError(self.env._("Only DevOps managers send alerts again."))
        if self.channel == "notification":
            raise UserError(self.env._("A notification is shown when its user is online."))
        if self.state == "sent":
            raise UserError(self.env._("This one was delivered already."))
        self.sudo().write({"state": "pending", "attempts": 0, "next_try": fields.Datetime.now()})
        self.env.ref("erplibre_devops.ir_cron_alert_send").sudo()._trigger()
        return True
