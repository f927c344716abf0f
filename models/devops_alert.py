"""Alerts: an instance went down, came back, operate gave up restarting it, or the TLS
certificate of its URL expires soon — told as an Odoo notification, e-mails and webhooks.

How an alert goes:

1. The operate cron (and the daily TLS check) calls
   ``env["devops.alert"]._instance_event(instance, kind, message)``.  It records a
   ``devops.alert`` and queues its deliveries (``devops.alert.delivery``): one notification
   per recipient user, one e-mail per address, one POST per webhook.  Nothing is sent in the
   caller's transaction, and a problem while queuing is logged, never raised: a broken alert
   setup never fails an operate pass.  An instance in a maintenance window, or whose alerts
   are muted, gets its alert recorded as silenced, without deliveries.
2. It wakes the cron *DevOps: send alerts* (``ir.cron._trigger``), which runs as soon as the
   operate pass has committed: it claims the due e-mail and webhook deliveries one at a time
   (``FOR UPDATE SKIP LOCKED``), sends each with a timeout, and commits its result.  A failed
   try is tried again after 1, 2, 4, 8 … minutes, up to the *attempts* setting; then the
   delivery is failed (and a warning logged).  A pass stops after SEND_BUDGET seconds and
   wakes itself again.
3. Notifications wait for their user's web client: the ``devops_alerts`` service
   (``static/src/alerts/``) asks ``poll_notifications`` every 20 s and shows what came.

Who gets what: notifications go to the DevOps managers and the DevOps users who asked for
them in their preferences; e-mails to the addresses of the settings (by default the DevOps
managers') plus the instance's own; webhooks to the settings' list plus the instance's own.
"""

import datetime
import json
import logging
import math
import re
import time

from odoo import api, fields, models
from odoo.tools import SQL, email_normalize

from ..engine import alerts
from ..engine.validation import check_host

_logger = logging.getLogger(__name__)

USER = "erplibre_devops.group_devops_user"
MANAGER = "erplibre_devops.group_devops_manager"
PARAM = "erplibre_devops."
SEND_BUDGET = 120  # seconds a pass of the send cron may spend before it hands over
NOTIFY_MAX = 5  # notifications shown at once; more are summed up in one
KIND_TYPES = {
    "down": "danger",
    "gave_up": "danger",
    "up": "success",
    "tls_expiry": "warning",
    "test": "info",
}
STICKY_KINDS = ("down", "gave_up", "tls_expiry")
DISPLAY_NAME = re.compile(r"[^<>]*<([^<>]*)>")  # Name <address>
ADDRESS_BAD = re.compile(r"[\s@<>,;:\"()\[\]\\\x00-\x1f\x7f]")


def split_emails(text):
    """``(addresses, bad)``: the normalized addresses of a comma-, semicolon- or
    newline-separated list (``ops@example.com`` or ``Ops <ops@example.com>``; duplicates
    dropped), and the parts that are no address."""
    addresses, bad = [], []
    for part in (text or "").replace(";", ",").replace("\n", ",").split(","):
        part = part.strip()
        if not part:
            continue
        named = DISPLAY_NAME.fullmatch(part)
        address = (named.group(1) if named else part).strip()
        local, at, domain = address.rpartition("@")
        if not at or not local or ADDRESS_BAD.search(local) or check_host(domain):
            bad.append(part)
            continue
        normalized = email_normalize(address) or address.lower()
        if normalized not in addresses:
            addresses.append(normalized)
    return addresses, bad


def emails_problem(env, text):
    """Why ``text`` is no list of e-mail addresses (translated), or None."""
    bad = split_emails(text)[1]
    if not bad:
        return None
    return env._(
        "%(value)s is not an e-mail address: separate addresses with commas, "
        "e.g. ops@example.com, dev@example.com.",
        value=bad[0],
    )


def translate_problem(env, problem):
    """An engine ``Problem`` (engine/validation.py) in the user's language, nested ones too."""
    params = {
        key: translate_problem(env, value) if isinstance(value, tuple) else value
        for key, value in problem.params.items()
    }
    return env._(problem.template, **params) if params else env._(problem.template)


class DevopsAlert(models.Model):
    _name = "devops.alert"
    _inherit = ["devops.input.mixin"]
    _description = "DevOps Alert"
    _order = "date desc, id desc"
    _rec_name = "title"

    instance_id = fields.Many2one(
        "devops.instance", required=True, ondelete="cascade", index=True, readonly=True
    )
    machine_id = fields.Many2one(related="instance_id.machine_id", store=True)
    kind = fields.Selection(
        [
            ("down", "Down"),
            ("up", "Back up"),
            ("gave_up", "Restarts gave up"),
            ("tls_expiry", "TLS certificate expiry"),
            ("test", "Test"),
        ],
        required=True,
        readonly=True,
    )
    title = fields.Char(readonly=True)
    message = fields.Text(readonly=True)
    date = fields.Datetime(required=True, default=fields.Datetime.now, readonly=True, index=True)
    silenced = fields.Boolean(
        string="Silenced by maintenance",
        readonly=True,
        help="The instance was in a maintenance window: nothing was sent.",
    )
    muted = fields.Boolean(
        readonly=True, help="The instance's alerts were muted: nothing was sent."
    )
    dedup_key = fields.Char(
        string="Key",
        readonly=True,
        index=True,
        help="Alerts with a key are sent once per key (a TLS certificate's fingerprint).",
    )
    delivery_ids = fields.One2many("devops.alert.delivery", "alert_id", string="Deliveries")
    state = fields.Selection(
        [
            ("silenced", "Silenced"),
            ("none", "Nothing to send"),
            ("pending", "Sending"),
            ("sent", "Sent"),
            ("failed", "Failed"),
        ],
        compute="_compute_state",
        store=True,
        help="Of its e-mails and webhooks (notifications wait for their users).",
    )

    @api.depends("silenced", "muted", "delivery_ids.state", "delivery_ids.channel")
    def _compute_state(self):
        for alert in self:
            states = set(
                alert.delivery_ids.filtered(lambda d: d.channel != "notification").mapped("state")
            )
            if alert.silenced or alert.muted:
                alert.state = "silenced"
            elif "pending" in states:
                alert.state = "pending"
            elif "failed" in states:
                alert.state = "failed"
            elif states:
                alert.state = "sent"
            else:
                alert.state = "none"

    @api.model
    def _param(self, key, default):
        return self.env["ir.config_parameter"].sudo().get_param(PARAM + key, default)

    # --- The entry point ------------------------------------------------------------------

    @api.model
    def _instance_event(self, instance, kind, message, dedup_key=None):
        """Record an alert about ``instance`` (``kind``: down, up, gave_up, tls_expiry, test)
        and queue what it sends; returns the alert.

        Called by the operate cron in its own transaction: nothing is sent here (the cron
        "DevOps: send alerts" is woken and sends after the commit), and any problem is
        logged and swallowed (an empty recordset is returned) — never raised to the caller."""
        try:
            with self.env.cr.savepoint():
                return self.sudo()._record(instance.sudo(), kind, message, dedup_key)
        except Exception:
            _logger.exception(
                "The %s alert of the instance %s could not be queued", kind, instance.id
            )
            return self.browse()

    def _record(self, instance, kind, message, dedup_key):
        instance.ensure_one()
        now = fields.Datetime.now()
        silenced = muted = False
        if kind != "test":
            silenced = instance._in_maintenance(now)
            muted = instance.alert_mute
        if kind == "up" and not (silenced or muted):
            # "Back up" follows its outage: silent when the outage was.
            outage = self.search(
                [("instance_id", "=", instance.id), ("kind", "in", ("down", "gave_up"))], limit=1
            )
            silenced, muted = outage.silenced, outage.muted
        alert = self.create(
            {
                "instance_id": instance.id,
                "kind": kind,
                "title": self._title(instance, kind),
                "message": message or "",
                "date": now,
                "silenced": silenced,
                "muted": muted,
                "dedup_key": dedup_key or False,
            }
        )
        if not (silenced or muted):
            alert._queue_deliveries()
        return alert

    @api.model
    def _title(self, instance, kind):
        titles = {
            "down": self.env._("%(instance)s is down", instance=instance.name),
            "up": self.env._("%(instance)s is back up", instance=instance.name),
            "gave_up": self.env._(
                "%(instance)s: automatic restarts gave up", instance=instance.name
            ),
            "tls_expiry": self.env._(
                "%(instance)s: TLS certificate expiry", instance=instance.name
            ),
            "test": self.env._("%(instance)s: test alert", instance=instance.name),
        }
        return titles[kind]

    # --- Deliveries ----------------------------------------------------------------------

    def _event(self):
        """What the webhooks and e-mails say about this alert (engine.alerts.build_payload)."""
        self.ensure_one()
        return {
            "instance": self.instance_id.name,
            "kind": self.kind,
            "message": self.message or "",
            "date": self.date.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "url": self.instance_id.url or "",
            "text": f"{self.title}: {self.message}" if self.message else self.title,
        }

    def _queue_deliveries(self):
        self.ensure_one()
        instance = self.instance_id
        now = fields.Datetime.now()
        values = [
            {
                "alert_id": self.id,
                "channel": "notification",
                "user_id": user.id,
                "target": user.name,
                "payload": json.dumps(self.with_context(lang=user.lang)._notification()),
            }
            for user in self._notification_users()
        ]
        email = self._email()
        values += [
            {
                "alert_id": self.id,
                "channel": "email",
                "target": address,
                "payload": json.dumps(email),
                "next_try": now,
            }
            for address in self._email_addresses(instance)
        ]
        event = self._event()
        values += [
            {
                "alert_id": self.id,
                "channel": "webhook",
                "target": url,
                "payload_format": fmt,
                "payload": json.dumps(alerts.build_payload(fmt, event)),
                "next_try": now,
            }
            for fmt, url in self._webhooks(instance)
        ]
        self.env["devops.alert.delivery"].sudo().create(values)
        if any(v["channel"] != "notification" for v in values):
            self.env.ref("erplibre_devops.ir_cron_alert_send").sudo()._trigger()

    def _notification(self):
        """What the web client shows (in the context's language)."""
        kind = self.kind
        return {
            "title": self._title(self.instance_id, kind),
            "message": self.message or "",
            "type": KIND_TYPES[kind],
            "sticky": kind in STICKY_KINDS,
            "instance_id": self.instance_id.id,
            "alert_id": self.id,
        }

    def _email(self):
        """{"subject", "body"} of this alert's e-mail (plain text)."""
        instance = self.instance_id
        base_url = self.env["ir.config_parameter"].sudo().get_param("web.base.url", "")
        lines = [self.title, "", self.message or "", ""]
        lines.append(self.env._("Instance: %(name)s", name=instance.name))
        lines.append(self.env._("Machine: %(name)s", name=instance.machine_id.name))
        if instance.url:
            lines.append(self.env._("URL: %(url)s", url=instance.url))
        lines.append(self.env._("Date: %(date)s UTC", date=fields.Datetime.to_string(self.date)))
        if base_url:
            link = f"{base_url}/odoo/action-erplibre_devops.action_instance/{instance.id}"
            lines.append(self.env._("Open in Odoo: %(link)s", link=link))
        lines += ["", "-- ", self.env._("ERPLibre DevOps alerts")]
        return {"subject": f"[DevOps] {self.title}", "body": "\n".join(lines)}

    @api.model
    def _notification_users(self):
        """The DevOps managers, and the DevOps users who asked for notifications."""
        Users = self.env["res.users"].sudo()
        return Users.search(
            [
                ("share", "=", False),
                "|",
                ("groups_id", "in", self.env.ref(MANAGER).id),
                "&",
                ("devops_alert_notify", "=", True),
                ("groups_id", "in", self.env.ref(USER).id),
            ]
        )

    @api.model
    def _default_email_addresses(self):
        managers = self.env.ref(MANAGER).sudo().users.filtered(lambda u: u.active and u.email)
        return split_emails(",".join(managers.mapped("email")))[0]

    @api.model
    def _email_addresses(self, instance):
        """The settings' recipients (the DevOps managers by default), then the instance's."""
        mode = self._param("alert_email_to", "managers")
        if mode == "list":
            addresses = split_emails(self._param("alert_emails", ""))[0]
        elif mode == "none":
            addresses = []
        else:
            addresses = self._default_email_addresses()
        for address in split_emails(instance.alert_emails)[0]:
            if address not in addresses:
                addresses.append(address)
        return addresses

    @api.model
    def _webhooks(self, instance):
        """[(format, url)]: the settings' webhooks, then the instance's."""
        hooks = alerts.parse_webhooks(self._param("alert_webhooks", ""))[0]
        for hook in alerts.parse_webhooks(instance.sudo().alert_webhooks or "")[0]:
            if hook not in hooks:
                hooks.append(hook)
        return hooks

    # --- Sending ---------------------------------------------------------------------------

    @api.model
    def _attempts_max(self):
        try:
            return max(1, int(self._param("alert_attempts", 5)))
        except ValueError:
            return 5

    @api.model
    def _cron_send(self, commit=False):
        """Send the due e-mails and webhooks, one delivery at a time, each committed when
        ``commit`` (the cron passes True; tests run in their own transaction)."""
        Delivery = self.env["devops.alert.delivery"].sudo()
        cron = self.env.ref("erplibre_devops.ir_cron_alert_send").sudo()
        attempts_max = self._attempts_max()
        deadline = time.monotonic() + SEND_BUDGET
        sent = 0
        while True:
            if time.monotonic() > deadline:
                cron._trigger()  # more to do: a next pass, soon
                break
            delivery = Delivery._claim()
            if not delivery:
                break
            delivery._send(attempts_max)
            sent += 1
            if commit:
                # Deliberate: each result is kept, whatever happens to the next one.
                self.env.cr.commit()  # pylint: disable=invalid-commit
        later = Delivery.search(
            [("state", "=", "pending"), ("channel", "!=", "notification")],
            order="next_try",
            limit=1,
        )
        if later.next_try:
            cron._trigger(max(later.next_try, fields.Datetime.now()))
        return sent

    # --- The web client's notifications -----------------------------------------------------

    @api.model
    def poll_notifications(self):
        """The current user's alert notifications not shown yet, newest first (at most
        NOTIFY_MAX, and one that counts the others), each marked as shown; [] for who is no
        DevOps user.  The web client calls it every 20 seconds: one indexed query when there
        is nothing new."""
        if not self.env.user.has_group(USER):
            return []
        Delivery = self.env["devops.alert.delivery"].sudo()
        Delivery.flush_model(["user_id", "channel", "state"])
        # SKIP LOCKED: two tabs asking at once do not both show the same alert.
        self.env.cr.execute(
            SQL(
                "SELECT id FROM devops_alert_delivery"
                " WHERE user_id = %s AND channel = 'notification' AND state = 'pending'"
                " ORDER BY id DESC FOR UPDATE SKIP LOCKED",
                self.env.uid,
            )
        )
        pending = Delivery.browse([row[0] for row in self.env.cr.fetchall()])
        if not pending:
            return []
        pending.write({"state": "sent", "attempts": 1, "date_sent": fields.Datetime.now()})
        shown = []
        for delivery in pending[:NOTIFY_MAX]:
            try:
                shown.append(dict(json.loads(delivery.payload), delivery_id=delivery.id))
            except (TypeError, ValueError):
                continue
        if len(pending) > NOTIFY_MAX:
            shown.append(
                {
                    "title": self.env._("DevOps alerts"),
                    "message": self.env._(
                        "%(count)s more alerts: see Operate, Alerts.",
                        count=len(pending) - NOTIFY_MAX,
                    ),
                    "type": "warning",
                    "sticky": True,
                    "instance_id": False,
                    "alert_id": False,
                }
            )
        return shown

    # --- TLS certificates -------------------------------------------------------------------

    @api.model
    def _tls_message(self, instance, cert, now):
        days = cert.days_left(now.replace(tzinfo=datetime.timezone.utc))
        date = cert.not_after.strftime("%Y-%m-%d %H:%M UTC")
        if days <= 0:
            text = self.env._(
                "The TLS certificate of %(url)s expired on %(date)s.", url=instance.url, date=date
            )
        else:
            text = self.env._(
                "The TLS certificate of %(url)s expires on %(date)s, in %(days)s days.",
                url=instance.url,
                date=date,
                days=math.ceil(days),
            )
        if not cert.trusted:
            text += " " + self.env._(
                "It is not trusted either: %(problem)s.", problem=cert.problem.rstrip(".")
            )
        return text
