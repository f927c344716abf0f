from odoo.tests import tagged

from .common import STAGE_CODES, DevopsCase, xmlid


@tagged("post_install", "-at_install")
class TestStages(DevopsCase):
    def test_eight_stages_in_order(self):
        stages = self.env["devops.stage"].search([])
        self.assertEqual(stages.mapped("code"), STAGE_CODES)
        expected = self.env["devops.stage"]
        for code in STAGE_CODES:
            expected |= self.env.ref(xmlid(f"stage_{code}"))
        self.assertEqual(stages, expected)
        self.assertEqual(
            stages.mapped("name"),
            ["Plan", "Code", "Build", "Test", "Release", "Deploy", "Operate", "Monitor"],
        )

    def test_each_stage_has_its_definition(self):
        stages = self.env["devops.stage"].search([])
        for stage in stages:
            self.assertTrue(stage.summary, stage.name)
            self.assertGreater(len(stage.description or ""), 40, stage.name)
        # The seed's words, in English: Operate handles incidents, Monitor watches metrics.
        operate = self.env.ref(xmlid("stage_operate"))
        self.assertIn("incidents", operate.description)
        monitor = self.env.ref(xmlid("stage_monitor"))
        self.assertIn("metrics", monitor.description)
        self.assertEqual(len(set(stages.mapped("description"))), 8)

    def test_stage_page_opens_its_stage(self):
        for code in STAGE_CODES:
            action = self.env.ref(xmlid(f"action_stage_{code}"))
            self.assertEqual(action.res_model, "devops.stage")
            self.assertEqual(action.res_id, self.env.ref(xmlid(f"stage_{code}")).id)
            self.assertEqual(action.view_mode, "form")

    def test_archived_stage_leaves_the_list(self):
        stage = self.env.ref(xmlid("stage_release"))
        stage.active = False
        self.assertNotIn("release", self.env["devops.stage"].search([]).mapped("code"))
