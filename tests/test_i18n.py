from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import DevopsCase, xmlid


@tagged("post_install", "-at_install")
class TestFrench(DevopsCase):
    """The French translation loads and covers data, views and the engine's messages."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("fr_FR")
        cls.env["ir.module.module"]._load_module_terms(["erplibre_devops"], ["fr_FR"])
        cls.fr = cls.env(context={"lang": "fr_FR"})

    def test_stages_in_french(self):
        plan = self.fr.ref(xmlid("stage_plan"))
        self.assertEqual(plan.summary, "Planifier et définir")
        self.assertIn("objectifs", plan.description)
        operate = self.fr.ref(xmlid("stage_operate"))
        self.assertIn("incidents", operate.description)
        self.assertIn("maintenance planifiées", operate.description)

    def test_menus_in_french(self):
        self.assertEqual(self.fr.ref(xmlid("menu_workspace")).name, "Espaces de travail")
        self.assertEqual(self.fr.ref(xmlid("menu_config_stage")).name, "Étapes")

    def test_validation_messages_in_french(self):
        env = self.fr
        with self.assertRaises(ValidationError) as caught:
            env["devops.workspace"].create(
                {"name": "W", "path": "relatif/chemin", "machine_id": self.local_machine.id}
            )
        self.assertIn("relatif", str(caught.exception))
        self.assertIn("chemin absolu", str(caught.exception))
        with self.assertRaises(ValidationError) as caught:
            env["devops.machine"].create({"name": "M", "kind": "ssh", "host": "h", "port": 0})
        self.assertIn("hors limites", str(caught.exception))
