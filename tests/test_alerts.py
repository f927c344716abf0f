"""Alerts with real parts: the tests' HTTP service killed and operated, webhooks posted to an
HTTP receiver started here, e-mails sent through Odoo's outgoing mail server to an SMTP
server started here (aiosmtpd), certificates read from HTTPS servers started here with
certificates made here.  Nothing on the network is mocked.

Odoo does not connect to any SMTP server while tests run (``ir.mail_server`` checks
``odoo.modules.module.current_test``): :meth:`TestAlerts.send_alerts` lifts that guard while
the send cron runs, so that the e-mail really goes out to the test's SMTP server.
"""

import contextlib
import datetime
import email
import email.policy
import json
import time
from unittest.mock import patch

from odoo import fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import HttpCase, new_test_user, tagged

from odoo.addons.erplibre_devops.engine.alert_testing import (
    SMTPReceiver,
    TLSServer,
    WebhookReceiver,
    make_certificate,
)
from odoo.addons.erplibre_devops.engine.testing import free_port, write_health_server

from .common import RunnerCase, xmlid
from .test_instance import InstanceMixin

PARAM = "erplibre_devops."
DELIVERY_LOGGER = "odoo.addons.erplibre_devops.models.devops_alert_delivery"


@tagged("post_install", "-at_install")
class TestAlerts(InstanceMixin, RunnerCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        write_health_server(cls.tmp)
        cls.workspace = cls.make_workspace(path=cls.tmp)
        cls.smtp = SMTPReceiver().start()
        cls.addClassCleanup(cls.smtp.stop)
        cls.env["ir.mail_server"].search([]).active = False
        cls.mail_server = cls.env["ir.mail_server"].create(
            {
                "name": "Test SMTP",
                "smtp_host": "127.0.0.1",
                "smtp_port": cls.smtp.port,
                "smtp_encryption": "none",
            }
        )
        cls.Alert = cls.env["devops.alert"]
        cls.Delivery = cls.env["devops.alert.delivery"]
        cls.send_cron = cls.env.ref(xmlid("ir_cron_alert_send"))

    def setUp(self):
        super().setUp()
        self.smtp.messages.clear()
        self.set_params(alert_email_to="list", alert_emails="ops@example.com")

    def set_params(self, **values):
        for key, value in values.items():
            self.env["ir.config_parameter"].sudo().set_param(PARAM + key, value)

    def receiver(self, statuses=(200,)):
        receiver = WebhookReceiver(statuses).start()
        self.addCleanup(receiver.stop)
        return receiver

    def send_alerts(self):
        """The cron "DevOps: send alerts", with Odoo's test-mode guard of SMTP lifted."""
        with patch("odoo.modules.module.current_test", None):
            return self.Alert._cron_send()

    def started_instance(self, **values):
        instance = self.make_instance(self.workspace, **values)
        instance.action_start()
        self.operate_until(instance, "running")
        return instance

    def triggers(self):
        return self.env["ir.cron.trigger"].search([("cron_id", "=", self.send_cron.id)])

    # --- The outage, end to end -------------------------------------------------------------

    def test_outage_reaches_every_channel(self):
        """A real instance killed: the operate pass raises the alert, the send cron woken at
        once delivers it as e-mails and webhooks of the three formats, and the managers'
        web clients get it as a notification; back up, the same again."""
        receiver = self.receiver()
        self.set_params(
            alert_webhooks=f"json {receiver.url('/json')}\nslack {receiver.url('/slack')}"
        )
        instance = self.started_instance(
            alert_emails="team@example.com, ops@example.com",
            alert_webhooks=f"discord {receiver.url('/discord')}",
        )
        self.assertFalse(instance.alert_ids)
        already = self.triggers()
        self.kill_service(instance)
        before = fields.Datetime.now()
        instance._operate()
        alert = instance.alert_ids
        self.assertEqual(len(alert), 1)
        self.assertEqual((alert.kind, alert.silenced, alert.muted), ("down", False, False))
        self.assertEqual(alert.title, f"{instance.name} is down")
        self.assertIn("not running", alert.message)
        self.assertEqual(alert.state, "pending")
        # Queued in the operate transaction; the send cron is woken for right now.
        triggers = self.triggers() - already
        self.assertEqual(len(triggers), 1)
        self.assertLessEqual(triggers.call_at, fields.Datetime.now())
        self.assertGreaterEqual(triggers.call_at, before)
        by_channel = {
            channel: alert.delivery_ids.filtered(lambda d, c=channel: d.channel == c)
            for channel in ("notification", "email", "webhook")
        }
        self.assertEqual(
            sorted(by_channel["email"].mapped("target")), ["ops@example.com", "team@example.com"]
        )
        self.assertEqual(
            sorted(by_channel["webhook"].mapped("payload_format")), ["discord", "json", "slack"]
        )
        managers = self.env.ref(xmlid("group_devops_manager")).users.filtered("active")
        self.assertEqual(by_channel["notification"].user_id, managers)
        self.assertIn(self.devops_manager, by_channel["notification"].user_id)
        self.assertNotIn(self.devops_user, by_channel["notification"].user_id)

        self.assertEqual(self.send_alerts(), 5)
        self.assertEqual(
            set((by_channel["email"] | by_channel["webhook"]).mapped("state")), {"sent"}
        )
        self.assertEqual(alert.state, "sent")
        # Webhooks: the three formats.
        (generic,) = receiver.delivered("/json")
        self.assertEqual(
            set(generic), {"instance", "kind", "message", "date", "url", "text"}, generic
        )
        self.assertEqual(generic["instance"], instance.name)
        self.assertEqual(generic["kind"], "down")
        self.assertIn("not running", generic["message"])
        self.assertEqual(generic["url"], instance.url)
        self.assertEqual(
            datetime.datetime.strptime(generic["date"], "%Y-%m-%dT%H:%M:%SZ"), alert.date
        )
        self.assertEqual(receiver.delivered("/slack"), [{"text": generic["text"]}])
        self.assertEqual(receiver.delivered("/discord"), [{"content": generic["text"]}])
        self.assertTrue(generic["text"].startswith(f"{instance.name} is down: "))
        # E-mails: through Odoo's outgoing mail server, to the SMTP server started here.
        self.assertEqual(len(self.smtp.messages), 2)
        self.assertEqual(
            sorted(m["to"][0] for m in self.smtp.messages), ["ops@example.com", "team@example.com"]
        )
        mail = email.message_from_string(self.smtp.messages[0]["data"], policy=email.policy.SMTP)
        self.assertEqual(mail["Subject"], f"[DevOps] {instance.name} is down")
        self.assertEqual(mail["X-ERPLibre-DevOps-Alert"], "down")
        body = mail.get_body().get_content()
        self.assertIn("not running", body)
        self.assertIn(f"/odoo/action-erplibre_devops.action_instance/{instance.id}", body)
        # Notifications: the manager's web client asks, gets it once.
        shown = self.Alert.with_user(self.devops_manager).poll_notifications()
        self.assertEqual(len(shown), 1)
        self.assertEqual(shown[0]["title"], f"{instance.name} is down")
        self.assertEqual((shown[0]["type"], shown[0]["sticky"]), ("danger", True))
        self.assertEqual(shown[0]["instance_id"], instance.id)
        self.assertEqual(self.Alert.with_user(self.devops_manager).poll_notifications(), [])
        self.assertEqual(self.Alert.with_user(self.devops_user).poll_notifications(), [])
        self.assertEqual(self.Alert.with_user(self.plain_user).poll_notifications(), [])
        mine = by_channel["notification"].filtered(lambda d: d.user_id == self.devops_manager)
        self.assertEqual((mine.state, mine.attempts), ("sent", 1))

        # Restarted by operate: back up, told the same ways.
        self.operate_until(instance, "running")
        back = instance.alert_ids.filtered(lambda a: a.kind == "up")
        self.assertEqual(len(back), 1)
        self.assertEqual(back.title, f"{instance.name} is back up")
        self.send_alerts()
        self.assertEqual(back.state, "sent")
        self.assertEqual(receiver.delivered("/json")[-1]["kind"], "up")
        self.assertEqual(len(self.smtp.messages), 4)
        shown = self.Alert.with_user(self.devops_manager).poll_notifications()
        self.assertEqual((shown[0]["type"], shown[0]["sticky"]), ("success", False))
        instance.action_stop()
        self.run_all()

    def test_operate_gives_up(self):
        receiver = self.receiver()
        self.set_params(alert_webhooks=receiver.url())
        instance = self.started_instance(restart_max_per_hour=0)
        self.kill_service(instance)
        instance._operate()
        # Under load the killed service may still answer one check: operate again until it
        # sees it down (each pass is what the cron does every minute).
        deadline = time.monotonic() + 15
        while not instance.alert_ids and time.monotonic() < deadline:
            time.sleep(0.2)
            instance._operate()
        self.assertEqual(instance.alert_ids.mapped("kind"), ["gave_up", "down"])
        self.assertTrue(instance.restart_given_up)
        instance._operate()  # no second alert while it stays given up
        self.assertEqual(len(instance.alert_ids), 2)
        self.send_alerts()
        self.assertEqual(sorted(b["kind"] for b in receiver.delivered()), ["down", "gave_up"])
        gave_up = next(b for b in receiver.delivered() if b["kind"] == "gave_up")
        self.assertIn("Gave up", gave_up["message"])

    # --- Retries, failures ------------------------------------------------------------------

    def test_webhook_retried_after_500(self):
        receiver = self.receiver([500, 200])
        self.set_params(alert_webhooks=f"slack {receiver.url()}", alert_email_to="none")
        instance = self.make_instance(self.workspace)
        alert = self.Alert._instance_event(instance, "down", "Nothing answers.")
        (delivery,) = alert.delivery_ids.filtered(lambda d: d.channel == "webhook")
        now = fields.Datetime.now()
        self.assertEqual(self.send_alerts(), 1)
        self.assertEqual((delivery.state, delivery.attempts), ("pending", 1))
        self.assertIn("HTTP 500", delivery.last_error)
        self.assertNotIn("/hook", delivery.last_error)
        self.assertGreaterEqual(delivery.next_try, now + datetime.timedelta(seconds=59))
        # The cron is asked to come back then; before that, nothing is due.
        self.assertIn(delivery.next_try, self.triggers().mapped("call_at"))
        self.assertEqual(self.send_alerts(), 0)
        self.assertEqual(len(receiver.requests), 1)
        # A minute later, as the cron's trigger does: delivered.
        delivery.next_try = fields.Datetime.now() - datetime.timedelta(seconds=1)
        self.assertEqual(self.send_alerts(), 1)
        self.assertEqual((delivery.state, delivery.attempts), ("sent", 2))
        self.assertFalse(delivery.last_error)
        self.assertEqual([r["status"] for r in receiver.requests], [500, 200])
        self.assertEqual(receiver.requests[0]["body"], receiver.requests[1]["body"])
        self.assertEqual(receiver.delivered(), [{"text": alert._event()["text"]}])

    def test_failed_after_the_last_try(self):
        receiver = self.receiver([500])
        closed = f"http://127.0.0.1:{free_port()}/hook"
        self.set_params(
            alert_webhooks=f"{receiver.url()}\n{closed}", alert_attempts="2", alert_email_to="none"
        )
        instance = self.make_instance(self.workspace)
        alert = self.Alert._instance_event(instance, "down", "Gone.")
        hooks = alert.delivery_ids.filtered(lambda d: d.channel == "webhook")
        self.send_alerts()
        self.assertEqual(hooks.mapped("state"), ["pending", "pending"])
        refused = hooks.filtered(lambda d: d.target == closed)
        self.assertIn("Refused", refused.last_error)
        hooks.next_try = fields.Datetime.now() - datetime.timedelta(seconds=1)
        already = self.triggers()
        with self.assertLogs(DELIVERY_LOGGER, "WARNING") as logs:
            self.send_alerts()
        self.assertEqual(hooks.mapped("state"), ["failed", "failed"])
        self.assertEqual(hooks.mapped("attempts"), [2, 2])
        self.assertEqual(alert.state, "failed")
        self.assertEqual(len(logs.records), 2)
        self.assertNotIn("/hook", "\n".join(logs.output))  # a webhook's path stays secret
        self.assertFalse(self.triggers() - already)  # nothing left to try
        # A manager sends one again; a user may not.
        with self.assertRaises(AccessError):
            refused.with_user(self.devops_user).action_retry()
        refused.with_user(self.devops_manager).action_retry()
        self.assertEqual((refused.state, refused.attempts), ("pending", 0))
        self.assertEqual(alert.state, "pending")

    def test_a_failing_receiver_never_breaks_operate(self):
        """An SMTP server that refuses, a webhook that answers nothing: operate goes on,
        the deliveries wait for their next try."""
        closed_smtp = self.env["ir.mail_server"].create(
            {"name": "Closed", "smtp_host": "127.0.0.1", "smtp_port": free_port(), "sequence": 1}
        )
        self.mail_server.active = False
        self.set_params(alert_webhooks=f"http://127.0.0.1:{free_port()}/hook")
        instance = self.started_instance(auto_restart=False)
        self.kill_service(instance)
        instance._operate()
        self.assertEqual(instance.state, "down")
        alert = instance.alert_ids
        self.assertEqual(alert.kind, "down")
        self.send_alerts()
        outgoing = alert.delivery_ids.filtered(lambda d: d.channel != "notification")
        self.assertEqual(outgoing.mapped("state"), ["pending", "pending"])
        self.assertTrue(all(outgoing.mapped("last_error")))
        self.assertEqual(alert.state, "pending")
        self.assertTrue(closed_smtp.exists())

    def test_queuing_problems_are_logged_never_raised(self):
        instance = self.make_instance(self.workspace)
        with self.assertLogs("odoo.addons.erplibre_devops.models.devops_alert", "ERROR"):
            alert = self.Alert._instance_event(instance, "no-such-kind", "x")
        self.assertFalse(alert)
        self.assertTrue(self.Alert._instance_event(instance, "down", "still works"))

    # --- Maintenance windows, mute ----------------------------------------------------------

    def test_maintenance_window_silences_everything(self):
        receiver = self.receiver()
        self.set_params(alert_webhooks=receiver.url())
        instance = self.started_instance(alert_emails="team@example.com")
        now = fields.Datetime.now()
        window = self.env["devops.maintenance.window"].create(
            {
                "instance_id": instance.id,
                "date_start": now - datetime.timedelta(minutes=5),
                "date_end": now + datetime.timedelta(hours=1),
                "reason": "Upgrade",
            }
        )
        self.assertTrue(instance._in_maintenance())
        self.assertTrue(instance.in_maintenance)
        self.assertEqual(window.state, "ongoing")
        self.kill_service(instance)
        instance._operate()
        alert = instance.alert_ids
        self.assertEqual((alert.kind, alert.silenced, alert.state), ("down", True, "silenced"))
        self.assertFalse(alert.delivery_ids)
        self.operate_until(instance, "running")
        back = instance.alert_ids.filtered(lambda a: a.kind == "up")
        self.assertTrue(back.silenced)
        self.assertFalse(back.delivery_ids)
        self.assertEqual(self.send_alerts(), 0)
        self.assertEqual(receiver.requests, [])
        self.assertEqual(self.smtp.messages, [])
        self.assertEqual(self.Alert.with_user(self.devops_manager).poll_notifications(), [])
        # The window over: the next outage is told.
        window.date_end = fields.Datetime.now() - datetime.timedelta(seconds=1)
        self.assertFalse(instance._in_maintenance())
        self.kill_service(instance)
        instance._operate()
        self.send_alerts()
        self.assertEqual([b["kind"] for b in receiver.delivered()], ["down"])
        self.assertEqual(len(self.smtp.messages), 2)
        instance.action_stop()
        self.run_all()

    def test_muted_instance(self):
        receiver = self.receiver()
        self.set_params(alert_webhooks=receiver.url())
        instance = self.make_instance(self.workspace, alert_mute=True)
        alert = self.Alert._instance_event(instance, "down", "Gone.")
        self.assertEqual((alert.muted, alert.state), (True, "silenced"))
        self.assertFalse(alert.delivery_ids)
        # A test alert goes out all the same: it checks the channels.
        with self.assertRaises(AccessError):
            instance.with_user(self.devops_user).action_send_test_alert()
        action = instance.with_user(self.devops_manager).action_send_test_alert()
        self.assertIn("webhooks: 1)", action["params"]["message"])
        self.send_alerts()
        self.assertEqual([b["kind"] for b in receiver.delivered()], ["test"])
        self.assertEqual(len(self.smtp.messages), 1)

    def test_windows(self):
        first = self.make_instance(self.workspace)
        second = self.make_instance(self.workspace)
        Window = self.env["devops.maintenance.window"]
        t0 = datetime.datetime(2026, 12, 1, 0, 0)

        def at(hours):
            return t0 + datetime.timedelta(hours=hours)

        for instance, start, end in [
            (first, -2, 1),  # starts before the range: clipped
            (first, 3, 5),
            (first, 4, 6),  # overlaps the previous one: merged
            (first, 30, 31),  # after the range
            (second, 10, 30),  # ends after the range: clipped
        ]:
            Window.create(
                {"instance_id": instance.id, "date_start": at(start), "date_end": at(end)}
            )
        windows = Window._windows([first.id, second.id], at(0), at(24))
        self.assertEqual(
            windows,
            {
                first.id: [(at(0), at(1)), (at(3), at(6))],
                second.id: [(at(10), at(24))],
            },
        )
        self.assertEqual(Window._windows([first.id], at(7), at(9)), {})
        self.assertEqual(Window._windows([], at(0), at(24)), {})
        self.assertTrue(first._in_maintenance(at(4)))
        self.assertFalse(first._in_maintenance(at(6)))
        with self.assertRaises(ValidationError):
            Window.create({"instance_id": first.id, "date_start": at(2), "date_end": at(1)})
        # Managers plan them; users read them.
        with self.assertRaises(AccessError):
            Window.with_user(self.devops_user).create(
                {"instance_id": first.id, "date_start": at(1), "date_end": at(2)}
            )
        self.assertEqual(
            len(Window.with_user(self.devops_user).search([("instance_id", "=", first.id)])), 4
        )
        Window.with_user(self.devops_manager).create(
            {"instance_id": first.id, "date_start": at(40), "date_end": at(41)}
        )

    # --- TLS certificates -------------------------------------------------------------------

    def test_tls_expiry(self):
        """A real HTTPS server with a self-signed certificate expiring in 5 days: alerted
        once, however often the daily check runs; an expired one too; one that expires in
        30 days is recorded, not alerted."""
        receiver = self.receiver()
        self.set_params(alert_webhooks=receiver.url(), alert_tls_days="14")
        directory = self.make_tempdir()
        servers = {}
        for name, days in (("soon", 5), ("expired", -2), ("later", 30)):
            server = TLSServer(*make_certificate(directory, name, days)).start()
            self.addCleanup(server.stop)
            servers[name] = server
        instances = {
            name: self.make_instance(self.workspace, url=server.url)
            for name, server in servers.items()
        }
        plain = self.make_instance(self.workspace)
        Instance = self.env["devops.instance"]
        for _ in range(2):
            Instance._cron_check_tls()
        soon = instances["soon"]
        (alert,) = soon.alert_ids
        self.assertEqual(alert.kind, "tls_expiry")
        self.assertIn("expires on", alert.message)
        self.assertIn("in 5 days", alert.message)
        self.assertIn("not trusted", alert.message)
        self.assertIn("signed", soon.tls_problem)
        self.assertAlmostEqual(
            (soon.tls_expiry_date - fields.Datetime.now()).total_seconds() / 86400, 5, delta=0.1
        )
        (expired,) = instances["expired"].alert_ids
        self.assertIn("expired on", expired.message)
        later = instances["later"]
        self.assertFalse(later.alert_ids)
        self.assertTrue(later.tls_expiry_date)
        self.assertFalse(plain.tls_checked_date)
        self.send_alerts()
        texts = sorted(b["text"] for b in receiver.delivered())
        self.assertEqual(len(texts), 2)
        self.assertTrue(all("TLS certificate" in text for text in texts))
        # Nothing answers any more: recorded on the instance, no alert (operate tells that).
        servers["soon"].stop()
        Instance._cron_check_tls()
        self.assertEqual(len(soon.alert_ids), 1)
        self.assertTrue(soon.tls_problem)
        # No longer https: its TLS fields are cleared.
        later.url = "http://localhost:8069"
        Instance._cron_check_tls()
        self.assertFalse(later.tls_checked_date)

    # --- Notifications, settings, access ------------------------------------------------------

    def test_notifications(self):
        self.set_params(alert_email_to="none")
        instance = self.make_instance(self.workspace)
        # A DevOps user who asks for them gets them; one who does not, does not.
        self.devops_user.with_user(self.devops_user).write({"devops_alert_notify": True})
        self.assertTrue(self.devops_user.devops_alert_notify)
        self.plain_user.sudo().devops_alert_notify = True  # no DevOps user: nothing
        for number in range(7):
            self.Alert._instance_event(instance, "down", f"Outage {number}")
        shown = self.Alert.with_user(self.devops_user).poll_notifications()
        self.assertEqual(len(shown), 6)
        self.assertEqual(
            [s["message"] for s in shown[:5]], [f"Outage {n}" for n in (6, 5, 4, 3, 2)]
        )
        self.assertIn("2 more alerts", shown[5]["message"])
        self.assertEqual(self.Alert.with_user(self.devops_user).poll_notifications(), [])
        self.assertFalse(
            self.Delivery.search([("user_id", "=", self.plain_user.id)]),
        )
        # Users read alerts and their own notifications, never the e-mails and webhooks.
        self.set_params(alert_webhooks="https://hooks.example.com/secret-token")
        self.Alert._instance_event(instance, "down", "Once more")
        deliveries = self.Delivery.with_user(self.devops_user).search([])
        self.assertEqual(set(deliveries.mapped("channel")), {"notification"})
        self.assertEqual(deliveries.user_id, self.devops_user)
        self.assertEqual(len(self.Alert.with_user(self.devops_user).search([])), 8)
        self.assertIn(
            "https://hooks.example.com/secret-token",
            self.Delivery.with_user(self.devops_manager).search([]).mapped("target"),
        )
        with self.assertRaises(AccessError):
            self.Alert.with_user(self.devops_manager).create(
                {"instance_id": instance.id, "kind": "down"}
            )

    def test_default_email_recipients_are_the_managers(self):
        self.set_params(alert_email_to="managers")
        self.devops_user.email = "user@example.com"
        self.devops_manager.email = "manager@example.com"
        instance = self.make_instance(self.workspace, alert_emails="dev@example.com")
        addresses = self.Alert._email_addresses(instance)
        self.assertIn(self.devops_manager.email, addresses)
        self.assertNotIn(self.devops_user.email, addresses)
        self.assertEqual(addresses[-1], "dev@example.com")
        self.set_params(alert_email_to="none")
        self.assertEqual(self.Alert._email_addresses(instance), ["dev@example.com"])

    def test_validation(self):
        instance = self.make_instance(self.workspace)
        for emails in (
            "not an address",
            "ops@example.com, @example.com",
            "a@b.c\x00",
            "ops@exa mple.com",
            "ops@-x.com",
        ):
            with self.subTest(emails=emails), self.assertRaises(ValidationError):
                instance.alert_emails = emails
        instance.alert_emails = "Ops <ops@example.com>; dev@example.com, root@localhost"
        for hooks in (
            "teams https://example.com/",
            "slack ftp://example.com/",
            "slack http://-oProxyCommand=x/",
            "https://example.com/a b",
            "json javascript:alert(1)",
        ):
            with self.subTest(hooks=hooks), self.assertRaises(ValidationError) as caught:
                instance.alert_webhooks = hooks
            self.assertIn("Line 1", str(caught.exception))
        instance.alert_webhooks = "discord https://discord.com/api/webhooks/1/x\n"
        # The webhooks of an instance are the managers' business (they hold tokens).
        with self.assertRaises(AccessError):
            instance.with_user(self.devops_user).read(["alert_webhooks"])
        self.assertTrue(instance.with_user(self.devops_manager).alert_webhooks)
        with self.assertRaises(AccessError):
            instance.with_user(self.devops_user).write({"alert_mute": True})
        Settings = self.env["res.config.settings"]
        for values in (
            {"devops_alert_emails": "nope"},
            {"devops_alert_email_to": "list", "devops_alert_emails": False},
            {"devops_alert_webhooks": "slack notaurl"},
            {"devops_alert_attempts": 0},
            {"devops_alert_tls_days": 0},
        ):
            with self.subTest(values=values), self.assertRaises(ValidationError):
                Settings.create(values)
        Settings.create(
            {
                "devops_alert_email_to": "list",
                "devops_alert_emails": "ops@example.com",
                "devops_alert_webhooks": "slack https://hooks.slack.com/services/x",
                "devops_alert_tls_days": 7,
                "devops_alert_attempts": 3,
            }
        ).execute()
        param = self.env["ir.config_parameter"].sudo().get_param
        self.assertEqual(param(PARAM + "alert_tls_days"), "7")
        self.assertEqual(
            param(PARAM + "alert_webhooks"), "slack https://hooks.slack.com/services/x"
        )
        # The webhooks (secret tokens) and addresses of the settings are the administrators':
        # get_values, default_get and onchange are open to every user over RPC.
        portal = new_test_user(self.env, login="portal_settings", groups="base.group_portal")
        for user in (self.devops_user, self.devops_manager, portal):
            as_user = Settings.with_user(user)
            self.assertNotIn("devops_alert_webhooks", as_user.get_values())
            self.assertNotIn("devops_alert_emails", as_user.get_values())
            with contextlib.suppress(AccessError):
                shown = as_user.default_get(["devops_alert_webhooks", "devops_alert_emails"])
                self.assertFalse(shown.get("devops_alert_webhooks"))
                self.assertFalse(shown.get("devops_alert_emails"))
        self.assertIn("hooks.slack.com", Settings.get_values()["devops_alert_webhooks"])
        # Planned by: who planned the window, never what a client sends.
        Window = self.env["devops.maintenance.window"].with_user(self.devops_manager)
        window = Window.create(
            {
                "instance_id": instance.id,
                "date_start": datetime.datetime(2026, 12, 1),
                "date_end": datetime.datetime(2026, 12, 2),
                "user_id": self.devops_user.id,
            }
        )
        self.assertEqual(window.user_id, self.devops_manager)
        with self.assertRaises(ValidationError):
            window.write({"user_id": self.devops_user.id})
        with self.assertRaises(ValidationError) as caught:
            Window.create(
                {
                    "instance_id": 404404,
                    "date_start": datetime.datetime(2026, 12, 1),
                    "date_end": datetime.datetime(2026, 12, 2),
                }
            )
        self.assertIn("404404", str(caught.exception))
        # Public methods check who calls them and on what.
        for call in (
            lambda: self.Delivery.browse(404404).with_user(self.devops_manager).action_retry(),
            lambda: self.Delivery.browse(["x"]).action_retry(),
            lambda: self.env["devops.instance"].browse(404404).action_send_test_alert(),
        ):
            with self.assertRaises(UserError):
                call()

    def test_payload_stored_is_what_is_sent(self):
        receiver = self.receiver()
        self.set_params(alert_webhooks=f"discord {receiver.url()}", alert_email_to="none")
        instance = self.make_instance(self.workspace)
        alert = self.Alert._instance_event(instance, "down", "x" * 3000)
        (hook,) = alert.delivery_ids.filtered(lambda d: d.channel == "webhook")
        self.send_alerts()
        self.assertEqual(receiver.delivered(), [json.loads(hook.payload)])
        self.assertEqual(len(receiver.delivered()[0]["content"]), 2000)


@tagged("post_install", "-at_install")
class TestAlertsBrowser(HttpCase):
    """The web client's service shows a manager's alert as a notification, within its first
    poll, and it is then marked shown."""

    def test_notification_in_the_web_client(self):
        machine = self.env.ref(xmlid("machine_local"))
        workspace = self.env["devops.workspace"].create(
            {"name": "Browser workspace", "path": "/srv/browser", "machine_id": machine.id}
        )
        instance = self.env["devops.instance"].create(
            {"name": "Browser instance", "workspace_id": workspace.id, "port": free_port()}
        )
        self.env["ir.config_parameter"].sudo().set_param(PARAM + "alert_email_to", "none")
        alert = self.env["devops.alert"]._instance_event(
            instance, "down", "The process is not running."
        )
        admin = self.env.ref("base.user_admin")
        delivery = alert.delivery_ids.filtered(lambda d: d.user_id == admin)
        self.assertEqual(delivery.state, "pending")
        code = r"""
        (async function () {
            const start = Date.now();
            while (Date.now() - start < 30000) {
                const found = [...document.querySelectorAll(".o_notification")].find((n) =>
                    n.textContent.includes("Browser instance is down") &&
                    n.textContent.includes("The process is not running."));
                if (found) {
                    if (!found.querySelector(".o_notification_buttons button")) {
                        throw new Error("no button to open the instance");
                    }
                    console.log("test successful");
                    return;
                }
                await new Promise((resolve) => setTimeout(resolve, 100));
            }
            throw new Error("Timed out waiting for the alert's notification");
        })();
        """
        self.browser_js("/odoo", code, login="admin", timeout=90)
        delivery.invalidate_recordset()
        self.assertEqual(delivery.state, "sent")

    def test_notification_reaches_every_tab(self):
        """The tab that asks the server passes the alerts on to the user's other tabs (here: a
        second BroadcastChannel of the same page, as another tab would have)."""
        machine = self.env.ref(xmlid("machine_local"))
        workspace = self.env["devops.workspace"].create(
            {"name": "Tabs workspace", "path": "/srv/tabs", "machine_id": machine.id}
        )
        instance = self.env["devops.instance"].create(
            {"name": "Tabs instance", "workspace_id": workspace.id, "port": free_port()}
        )
        self.env["ir.config_parameter"].sudo().set_param(PARAM + "alert_email_to", "none")
        admin = self.env.ref("base.user_admin")
        code = r"""
        (async function () {
            const heard = [];
            const otherTab = new BroadcastChannel("erplibre_devops_alerts_UID");
            otherTab.onmessage = (event) => heard.push(...event.data);
            // A manager sends a test alert: its notification is for the managers.
            const response = await fetch("/web/dataset/call_kw", {
                method: "POST",
                headers: {"Content-Type": "application/json"},
                body: JSON.stringify({jsonrpc: "2.0", method: "call", params: {
                    model: "devops.instance", method: "action_send_test_alert",
                    args: [[INSTANCE]], kwargs: {}}}),
            });
            const body = await response.json();
            if (body.error) {
                throw new Error("the test alert failed: " + JSON.stringify(body.error));
            }
            document.dispatchEvent(new Event("visibilitychange"));  // ask now
            const start = Date.now();
            while (Date.now() - start < 40000) {
                const here = [...document.querySelectorAll(".o_notification")].some((n) =>
                    n.textContent.includes("this channel works"));
                const there = heard.some((a) => (a.message || "").includes("this channel works"));
                if (here && there) {
                    console.log("test successful");
                    return;
                }
                await new Promise((resolve) => setTimeout(resolve, 100));
            }
            throw new Error("Timed out: shown here " + [...document.querySelectorAll(
                ".o_notification")].length + ", passed on " + JSON.stringify(heard));
        })();
        """.replace("UID", str(admin.id)).replace("INSTANCE", str(instance.id))
        self.browser_js("/odoo", code, login="admin", timeout=90)
