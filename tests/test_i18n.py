import polib

from odoo.exceptions import ValidationError
from odoo.tests import tagged
from odoo.tools.misc import file_path
from odoo.tools.translate import TranslationModuleReader

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

    def test_plan_in_french(self):
        change = self.fr["devops.change"].create({"name": "Livres"})
        self.assertEqual(change.stage_id.code, "plan")
        self.assertEqual(
            change.stage_reason,
            "Pas démarré : choisissez ses espaces de travail, puis cliquez sur Démarrer pour "
            "créer sa branche.",
        )

    def test_every_term_has_a_french_translation(self):
        """A new UI string without its French translation fails here (scripts/dev.sh i18n)."""
        reader = TranslationModuleReader(self.env.cr, modules=["erplibre_devops"], lang="fr_FR")
        terms = {row[4] for row in reader if row[4]}
        self.assertGreater(len(terms), 100)
        path = file_path("erplibre_devops/i18n/fr.po")
        translated = {entry.msgid for entry in polib.pofile(path) if entry.msgstr}
        self.assertFalse(sorted(terms - translated), "terms missing from i18n/fr.po")
