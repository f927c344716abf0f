from psycopg2 import IntegrityError

from odoo.exceptions import ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import DevopsCase


@tagged("post_install", "-at_install")
class TestValidation(DevopsCase):
    def _machine(self, **vals):
        return self.env["devops.machine"].create(
            {"name": "Remote", "kind": "ssh", "host": "remote.example.com", **vals}
        )

    def test_local_machine_exists(self):
        self.assertEqual(self.local_machine.kind, "local")
        self.assertEqual(self.env["devops.workspace"].new({}).machine_id, self.local_machine)

    def test_workspace_path_must_be_absolute_and_clean(self):
        cases = {
            "srv/odoo": "relative",
            "": "empty",
            "/srv/../etc": "'..'",
            "/srv/odoo\x00": "NUL",
            "/srv/odoo\n; rm -rf /": "control character",
        }
        for path, word in cases.items():
            with self.subTest(path=path), self.assertRaises(ValidationError) as caught:
                self.make_workspace(path=path)
            self.assertIn(word, str(caught.exception))

    def test_workspace_path_normalized_and_hostile_characters_kept_as_data(self):
        workspace = self.make_workspace(path="//srv//odoo/./my repo $(id);`x`|&/")
        self.assertEqual(workspace.path, "/srv/odoo/my repo $(id);`x`|&")
        workspace.path = "/opt/other/"
        self.assertEqual(workspace.path, "/opt/other")
        with self.assertRaises(ValidationError):
            workspace.path = "/opt/../root"

    def test_ports_in_range(self):
        for port in (0, -1, 65536, 100000):
            with self.subTest(port=port), self.assertRaises(ValidationError) as caught:
                self._machine(port=port)
            self.assertIn("1 to 65535", str(caught.exception))
        workspace = self.make_workspace()
        for port in (0, 70000):
            with self.subTest(port=port), self.assertRaises(ValidationError):
                self.env["devops.instance"].create(
                    {"name": "Bad port", "workspace_id": workspace.id, "port": port}
                )
        self.assertEqual(self._machine(port=65535).port, 65535)

    def test_ssh_machine_needs_a_valid_host(self):
        with self.assertRaises(ValidationError) as caught:
            self._machine(host=False)
        self.assertIn("needs a host", str(caught.exception))
        with self.assertRaises(ValidationError):
            self._machine(host="   ")
        for host in ("-oProxyCommand=touch /tmp/pwned", "host;reboot", "$(id)", "a b"):
            with self.subTest(host=host), self.assertRaises(ValidationError):
                self._machine(host=host)
        with self.assertRaises(ValidationError):
            self._machine(ssh_user="-oops")
        # A local machine needs no host.
        self.env["devops.machine"].create({"name": "Second local", "kind": "local", "host": False})

    def test_instance_url(self):
        workspace = self.make_workspace()
        instance = self.env["devops.instance"].create(
            {"name": "Dev", "workspace_id": workspace.id, "port": 8069}
        )
        self.assertEqual(instance.url, "http://localhost:8069")
        self.assertEqual(instance.state, "stopped")
        instance.port = 8070
        self.assertEqual(instance.url, "http://localhost:8070")
        with self.assertRaises(ValidationError):
            instance.url = "javascript:alert(1)"
        instance.url = "https://erp.example.com"
        self.assertEqual(instance.url, "https://erp.example.com")

    def test_duplicate_names_refused(self):
        self._machine()
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError), self.cr.savepoint():
            self._machine()
        workspace = self.make_workspace(name="WS", path="/srv/a")
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError), self.cr.savepoint():
            self.make_workspace(name="WS", path="/srv/b")
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError), self.cr.savepoint():
            self.make_workspace(name="Other", path="/srv/a")
        vals = {"name": "Prod", "workspace_id": workspace.id}
        self.env["devops.instance"].create(vals)
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError), self.cr.savepoint():
            self.env["devops.instance"].create(vals)
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError), self.cr.savepoint():
            self.env["devops.stage"].create({"name": "Again", "code": "plan"})

    def test_settings_timeout(self):
        settings = self.env["res.config.settings"].create({})
        self.assertEqual(settings.devops_command_timeout, 600)
        settings.devops_command_timeout = 30
        settings.execute()
        self.assertEqual(
            self.env["ir.config_parameter"].sudo().get_param("erplibre_devops.command_timeout"),
            "30",
        )
        with self.assertRaises(ValidationError):
            self.env["res.config.settings"].create({"devops_command_timeout": 0})
