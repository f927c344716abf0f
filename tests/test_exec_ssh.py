import os

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged

from odoo.addons.erplibre_devops.engine import ssh
from odoo.addons.erplibre_devops.engine.testing import keygen

from .common import SSHCase


@tagged("post_install", "-at_install")
class TestExecSSH(SSHCase):
    def _trust(self):
        self.trust_ssh_machine()

    def test_first_connection_pins_the_host_key(self):
        machine = self.ssh_machine
        self.assertFalse(machine.host_key)
        result = machine.action_test_connection()
        self.assertEqual(result["params"]["type"], "warning")
        fingerprint = self.sshd.host_fingerprint()
        self.assertEqual(machine.host_key_offered_fingerprint, fingerprint)
        self.assertIn(fingerprint, result["params"]["message"])
        self.assertFalse(machine.host_key)  # never auto-accepted
        self.assertFalse(machine.os_name)
        # A DevOps user may test, but only a manager accepts.
        with self.assertRaises(AccessError):
            machine.with_user(self.devops_user).action_accept_host_key(fingerprint)
        machine.with_user(self.devops_manager).action_accept_host_key(fingerprint)
        self.assertEqual(machine.host_key, self.sshd.host_key)
        self.assertEqual(machine.host_key_fingerprint, fingerprint)
        self.assertFalse(machine.host_key_offered)
        self.assertEqual(machine.cpu_count, os.cpu_count())
        self.assertTrue(machine.kernel.startswith("Linux"))
        self.assertFalse(machine.facts_error)

    def test_run_over_ssh(self):
        self._trust()
        workspace = self.make_workspace(name="Remote", path=self.tmp, machine=self.ssh_machine)
        ok = workspace.exec_command(["sh", "-c", 'pwd; echo "$0" >&2', "a b;$(x)"])
        failing = workspace.exec_command("exit 3")
        killed = workspace.exec_command("kill -TERM $$")
        slow = workspace.exec_command(["sleep", "30"], timeout=1)
        self.run_all()
        ok, failing, killed, slow = self.Exec.browse([ok, failing, killed, slow])
        self.assertEqual(ok.state, "done")
        self.assertEqual(ok.output, f"{self.tmp}\na b;$(x)\n")
        self.assertEqual(ok.output_stderr, "a b;$(x)\n")
        self.assertEqual((failing.state, failing.exit_code), ("failed", 3))
        self.assertEqual((killed.state, killed.signal_name), ("failed", "SIGTERM"))
        self.assertEqual(slow.state, "timeout")

    def test_host_key_mismatch_refused(self):
        _private, other = keygen(os.path.join(self.tmp, "other_host"), "ed25519")
        self.ssh_machine.host_key = other
        result = self.ssh_machine.action_test_connection()
        self.assertEqual(result["params"]["type"], "danger")
        self.assertIn("changed", self.ssh_machine.facts_error)
        run = self.Exec.browse(self.ssh_machine.exec_command(["true"]))
        self.run_all()
        self.assertEqual(run.state, "failed")
        self.assertIn("changed", run.error_message)

    def test_wrong_key_refused(self):
        self._trust()
        private, _public = keygen(os.path.join(self.tmp, "stranger"), "ed25519")
        self.ssh_machine.ssh_private_key = private
        run = self.Exec.browse(self.ssh_machine.exec_command(["true"]))
        self.run_all()
        self.assertEqual(run.state, "failed")
        self.assertIn("refused the login", run.error_message)

    def test_unreachable_machine(self):
        closed = self.env["devops.machine"].create(
            {"name": "Closed", "kind": "ssh", "host": "127.0.0.1", "port": 1, "ssh_user": "x"}
        )
        result = closed.action_test_connection()
        self.assertEqual(result["params"]["type"], "danger")
        self.assertIn("refused the connection", closed.facts_error)

    def test_secrets_are_write_only(self):
        machine = self.ssh_machine.with_user(self.devops_manager)
        machine.ssh_password = "s3cret-passw0rd"
        self.assertTrue(machine.ssh_private_key_set)
        self.assertTrue(machine.ssh_password_set)
        # Nobody reads them back: not the manager, not over RPC, not the secret model.
        values = machine.read(["ssh_private_key", "ssh_password"])[0]
        self.assertFalse(values["ssh_private_key"])
        self.assertFalse(values["ssh_password"])
        self.assertFalse(
            machine.search_read([("id", "=", machine.id)], ["ssh_password"])[0]["ssh_password"]
        )
        for user in (self.devops_manager, self.devops_user):
            with self.assertRaises(AccessError):
                self.env["devops.secret"].with_user(user).search([])
        with self.assertRaises(AccessError):
            self.ssh_machine.with_user(self.devops_user).read(["ssh_password"])
        with self.assertRaises(AccessError):
            self.ssh_machine.with_user(self.devops_user).write({"ssh_password": "x"})
        self.assertNotIn("ssh_password", self.ssh_machine.with_user(self.devops_user).read()[0])
        # Never in a run's output, argv or the process list.
        self._trust()
        run = self.Exec.browse(self.ssh_machine.exec_command("ps -eo args; env"))
        self.run_all()
        self.assertEqual(run.state, "done")
        key_body = self.sshd.client_key["ed25519"].splitlines()[1]
        for text in (run.output, run.argv, run.command):
            self.assertNotIn("s3cret-passw0rd", text)
            self.assertNotIn(key_body, text)

    def test_invalid_key_and_host_key_refused(self):
        with self.assertRaises(ValidationError):
            self.ssh_machine.ssh_private_key = "not a key"
        with self.assertRaises(ValidationError):
            self.ssh_machine.host_key = "ssh-ed25519 not-base64!"

    def test_connection_reused_between_runs(self):
        self._trust()
        self.ssh_machine.exec_command(["true"])
        self.run_all()
        client = ssh.POOL.get(self.ssh_machine._ssh_target())
        self.ssh_machine.exec_command(["true"])
        self.run_all()
        self.assertIs(ssh.POOL.get(self.ssh_machine._ssh_target()), client)

    def test_host_key_dialog_accepts_the_fingerprint_it_shows(self):
        machine = self.ssh_machine.with_user(self.devops_manager)
        result = machine.action_test_connection()
        # Not sticky: the form shows the fingerprint and the Accept button meanwhile.
        self.assertFalse(result["params"]["sticky"])
        self.assertEqual(result["params"]["next"], {"type": "ir.actions.act_window_close"})
        Wizard = self.env["devops.machine.host.key.wizard"].with_user(self.devops_manager)
        wizard = Wizard.browse(machine.action_open_host_key_wizard()["res_id"])
        self.assertEqual(wizard.fingerprint, self.sshd.host_fingerprint())
        self.assertEqual(wizard.key_type, self.sshd.host_key.split()[0])
        # Another key offered since the dialog opened: the dialog's key is not accepted.
        with self.assertRaises(AccessError):  # managers accept host keys
            self.env["devops.machine.host.key.wizard"].with_user(self.devops_user).create(
                {"machine_id": machine.id}
            )
        _private, other = keygen(os.path.join(self.tmp, "offered_since"), "ed25519")
        self.ssh_machine.sudo().write(
            {"host_key_offered": other, "host_key_offered_fingerprint": "SHA256:other"}
        )
        with self.assertRaises(UserError):
            wizard.action_accept()
        self.assertFalse(machine.host_key)
        # What a dialog shows is read from the machine, whatever its creator sent.
        forged = Wizard.create({"machine_id": machine.id, "fingerprint": "SHA256:forged"})
        self.assertEqual(forged.fingerprint, "SHA256:other")
        machine.action_test_connection()
        wizard = Wizard.browse(machine.action_open_host_key_wizard()["res_id"])
        result = wizard.action_accept()
        self.assertEqual(machine.host_key, self.sshd.host_key)
        self.assertEqual(result["params"]["type"], "success")
        with self.assertRaises(UserError):  # nothing waits any more
            machine.action_open_host_key_wizard()

    def test_private_key_field_is_empty_after_save(self):
        """The form's save (web_save) reads the record back: what was pasted never comes
        back, and "Private key set" is up to date."""
        private, _public = keygen(os.path.join(self.tmp, "pasted"), "ed25519")
        names = ["ssh_private_key", "ssh_private_key_set", "ssh_password", "ssh_password_set"]
        spec = {name: {} for name in names}
        Machine = self.env["devops.machine"].with_user(self.devops_manager)
        (values,) = Machine.web_save(
            {"name": "Pasted", "kind": "ssh", "host": "h.example.com", "ssh_private_key": private},
            spec,
        )
        self.assertEqual((values["ssh_private_key"], values["ssh_private_key_set"]), (False, True))
        machine = Machine.browse(values["id"])
        (values,) = machine.web_save({"ssh_password": "pa55"}, spec)
        self.assertEqual((values["ssh_password"], values["ssh_password_set"]), (False, True))
        (values,) = machine.web_save({"ssh_private_key": private}, spec)
        self.assertFalse(values["ssh_private_key"])
        self.assertNotIn(private.splitlines()[1], str(values))
