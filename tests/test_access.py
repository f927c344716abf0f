from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import DevopsCase, xmlid

CONFIG_MODELS = ["devops.stage", "devops.machine", "devops.workspace", "devops.instance"]


@tagged("post_install", "-at_install")
class TestAccess(DevopsCase):
    def _visible_menu_ids(self, user):
        menus = self.env["ir.ui.menu"].with_user(user).load_menus(False)
        return {key for key in menus if key != "root"}

    def test_groups(self):
        user_group = self.env.ref(xmlid("group_devops_user"))
        local_group = self.env.ref(xmlid("group_devops_local_exec"))
        manager_group = self.env.ref(xmlid("group_devops_manager"))
        # User < Run commands on the Odoo server < Manager: one chain, shown as one choice.
        self.assertIn(user_group, local_group.implied_ids)
        self.assertIn(local_group, manager_group.implied_ids)
        self.assertEqual(local_group.category_id, user_group.category_id)
        self.assertFalse(self.devops_user.has_group(xmlid("group_devops_local_exec")))
        self.assertTrue(self.devops_manager.has_group(xmlid("group_devops_local_exec")))
        self.assertEqual(user_group.category_id, manager_group.category_id)
        self.assertEqual(
            user_group.category_id, self.env.ref(xmlid("module_category_erplibre_devops"))
        )
        self.assertTrue(self.env.ref("base.user_admin").has_group(xmlid("group_devops_manager")))
        self.assertTrue(self.devops_manager.has_group(xmlid("group_devops_user")))
        self.assertFalse(self.plain_user.has_group(xmlid("group_devops_user")))

    def test_plain_user_sees_no_devops_menu(self):
        root = self.env.ref(xmlid("menu_root"))
        self.assertNotIn(root.id, self._visible_menu_ids(self.plain_user))
        self.assertIn(root.id, self._visible_menu_ids(self.devops_user))
        self.assertIn(root.id, self._visible_menu_ids(self.devops_manager))

    def test_settings_menu_only_for_administrators(self):
        # Saving settings needs an administrator (res.config.settings.execute).
        settings = self.env.ref(xmlid("menu_config_settings"))
        self.assertNotIn(settings.id, self._visible_menu_ids(self.devops_manager))
        self.assertIn(settings.id, self._visible_menu_ids(self.env.ref("base.user_admin")))
        self.assertIn(
            self.env.ref(xmlid("menu_config_stage")).id, self._visible_menu_ids(self.devops_user)
        )

    def test_plain_user_cannot_read(self):
        for model in CONFIG_MODELS:
            with self.subTest(model=model), self.assertRaises(AccessError):
                self.env[model].with_user(self.plain_user).search([])

    def test_user_reads_but_cannot_write_configuration(self):
        machine = self.local_machine.with_user(self.devops_user)
        self.assertEqual(machine.name, self.local_machine.name)
        self.assertEqual(len(self.env["devops.stage"].with_user(self.devops_user).search([])), 8)
        with self.assertRaises(AccessError):
            machine.write({"name": "Renamed"})
        with self.assertRaises(AccessError):
            self.env["devops.machine"].with_user(self.devops_user).create(
                {"name": "Other", "kind": "ssh", "host": "example.com"}
            )
        with self.assertRaises(AccessError):
            self.env.ref(xmlid("stage_plan")).with_user(self.devops_user).write({"name": "X"})
        workspace = self.make_workspace()
        with self.assertRaises(AccessError):
            workspace.with_user(self.devops_user).unlink()

    def test_manager_writes_configuration(self):
        env = self.env(user=self.devops_manager)
        machine = env["devops.machine"].create(
            {"name": "Build server", "kind": "ssh", "host": "build.example.com", "ssh_user": "odoo"}
        )
        workspace = env["devops.workspace"].create(
            {"name": "ERPLibre", "machine_id": machine.id, "path": "/home/odoo/erplibre"}
        )
        instance = env["devops.instance"].create(
            {"name": "Staging", "workspace_id": workspace.id, "port": 8070, "database": "staging"}
        )
        self.assertEqual(instance.machine_id, machine)
        self.assertEqual(instance.url, "http://build.example.com:8070")
        env.ref(xmlid("stage_plan")).write({"summary": "Plan and define the work"})
        instance.unlink()

    def test_every_model_has_access_rules(self):
        model_names = (
            self.env["ir.model.data"]
            .search([("module", "=", "erplibre_devops"), ("model", "=", "ir.model")])
            .mapped("res_id")
        )
        models = self.env["ir.model"].browse(model_names)
        self.assertIn("devops.machine", models.mapped("model"))
        for model in models:
            # Models this addon defines (its extensions of core models keep core's rules).
            if self.env[model.model]._abstract or model.model not in self.env.registry:
                continue
            if self.env[model.model]._original_module != "erplibre_devops":
                continue
            with self.subTest(model=model.model):
                groups = model.access_ids.mapped("group_id")
                ours = self.env.ref(xmlid("group_devops_user")) | self.env.ref(
                    xmlid("group_devops_manager")
                )
                self.assertTrue(groups & ours, f"{model.model} has no access row")
