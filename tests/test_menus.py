from odoo.tests import HttpCase, tagged

from .common import xmlid

ROOT_CHILDREN = [
    "menu_overview",
    "menu_devops",
    "menu_plan",
    "menu_code",
    "menu_build",
    "menu_test",
    "menu_release",
    "menu_deploy",
    "menu_operate",
    "menu_monitor",
    "menu_config",
]


@tagged("post_install", "-at_install")
class TestMenus(HttpCase):
    """The menu tree as the web client receives it, and every leaf's action loading."""

    def _menus(self, login):
        user = self.env["res.users"].search([("login", "=", login)])
        return self.env["ir.ui.menu"].with_user(user).load_menus(False)

    def _children(self, menus, menu_xmlid):
        menu_id = self.env.ref(xmlid(menu_xmlid)).id
        return [menus[child]["xmlid"] for child in menus[menu_id]["children"]]

    def test_menu_tree(self):
        menus = self._menus("admin")
        root = self.env.ref(xmlid("menu_root"))
        self.assertIn(root.id, menus["root"]["children"])
        self.assertEqual(root.name, "ERPLibre DevOps")
        self.assertEqual(self._children(menus, "menu_root"), [xmlid(m) for m in ROOT_CHILDREN])
        self.assertEqual(
            self._children(menus, "menu_devops"),
            [
                xmlid("menu_machine"),
                xmlid("menu_workspace"),
                xmlid("menu_instance"),
                xmlid("menu_exec_wizard"),
                xmlid("menu_exec"),
                xmlid("menu_pipeline_run"),
                xmlid("menu_exec_error"),
            ],
        )
        self.assertEqual(
            self._children(menus, "menu_config"),
            [
                xmlid("menu_config_stage"),
                xmlid("menu_config_pipeline"),
                xmlid("menu_config_settings"),
            ],
        )
        self.assertTrue(menus[root.id]["web_icon"].startswith("erplibre_devops,"))

    def _leaves(self, menus, menu_id):
        children = menus[menu_id]["children"]
        if not children:
            return [menus[menu_id]]
        return [leaf for child in children for leaf in self._leaves(menus, child)]

    def test_every_leaf_action_loads(self):
        """What the web client does on a click: load the action, then its views and record."""
        self.authenticate("admin", "admin")
        menus = self._menus("admin")
        leaves = self._leaves(menus, self.env.ref(xmlid("menu_root")).id)
        # + 4: the Test menu (board, runs, results, pass rate) beside its About page;
        # + 1 + 2: Release (releases) and Deploy (deployments, environments).
        self.assertEqual(len(leaves), 1 + 7 + 5 + 3 + 3 + 2 + 7 + 3 + 3 + 4 + 1 + 2 + 2)
        for leaf in leaves:
            with self.subTest(menu=leaf["xmlid"]):
                self.assertTrue(leaf["action"], f"{leaf['xmlid']} has no action")
                action_id = int(leaf["action"].split(",")[1])
                action = self.make_jsonrpc_request("/web/action/load", {"action_id": action_id})
                if action["type"] == "ir.actions.client":  # the home page, and what it reads
                    self.assertEqual(action["tag"], "devops_overview")
                    data = self.make_jsonrpc_request(
                        "/web/dataset/call_kw/devops.instance/overview_data",
                        {
                            "model": "devops.instance",
                            "method": "overview_data",
                            "args": [],
                            "kwargs": {},
                        },
                    )
                    self.assertEqual(
                        set(data), {"states", "attention", "incidents", "machines", "failed_runs"}
                    )
                    continue
                self.assertEqual(action["type"], "ir.actions.act_window")
                model = action["res_model"]
                views = self.make_jsonrpc_request(
                    f"/web/dataset/call_kw/{model}/get_views",
                    {
                        "model": model,
                        "method": "get_views",
                        "args": [],
                        "kwargs": {"views": action["views"], "options": {"load_filters": True}},
                    },
                )
                for _view_id, view_type in action["views"]:
                    self.assertIn(view_type, views["views"])
                if action.get("res_id"):
                    records = self.make_jsonrpc_request(
                        f"/web/dataset/call_kw/{model}/web_read",
                        {
                            "model": model,
                            "method": "web_read",
                            "args": [[action["res_id"]]],
                            "kwargs": {"specification": {"display_name": {}}},
                        },
                    )
                    self.assertEqual(len(records), 1)

    def test_stage_menus_open_their_stage(self):
        """Every stage has features; its page is the last entry of its menu."""
        for code in ["plan", "code", "build", "test", "release", "deploy", "operate", "monitor"]:
            children = self.env.ref(xmlid(f"menu_{code}")).child_id.sorted("sequence")
            self.assertEqual(children[-1].action, self.env.ref(xmlid(f"action_stage_{code}")))
        self.assertEqual(
            self._children(self._menus("admin"), "menu_operate"),
            [
                xmlid("menu_operate_instance"),
                xmlid("menu_operate_incident"),
                xmlid("menu_operate_backup"),
                xmlid("menu_operate_alert"),
                xmlid("menu_operate_alert_delivery"),
                xmlid("menu_operate_maintenance"),
                xmlid("menu_operate_stage"),
            ],
        )
        self.assertEqual(
            self._children(self._menus("admin"), "menu_monitor"),
            [
                xmlid("menu_monitor_dashboard"),
                xmlid("menu_monitor_check"),
                xmlid("menu_monitor_stage"),
            ],
        )
