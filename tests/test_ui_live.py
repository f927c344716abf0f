"""In a real browser: an instance killed from outside shows as Down on its form and in the
Live state list without a reload of the page; Start keeps the user on the instance."""

import contextlib
import os
import shutil
import signal
import tempfile

from odoo import SUPERUSER_ID, api
from odoo.tests import tagged

from odoo.addons.erplibre_devops.engine.testing import free_port, write_health_server

from .test_ui import JS_HELPERS, BackgroundCase

KILL_KEY = "erplibre_devops.test_kill"

WATCH_JS = r"""
(async function () {
%(helpers)s
    const text = (selector) =>
        Array.from(document.querySelectorAll(selector)).map((el) => el.textContent).join(" ");
    const status = () => text(".o_form_view .o_statusbar_status .o_arrow_button_current").trim();
    // What the test's "outside world" watches: this key changing means "kill it now".
    async function killFromOutside(round) {
        const response = await fetch("/web/dataset/call_kw/ir.config_parameter/set_param", {
            method: "POST",
            headers: {"Content-Type": "application/json"},
            body: JSON.stringify({jsonrpc: "2.0", method: "call", params: {
                model: "ir.config_parameter", method: "set_param",
                args: ["%(kill_key)s", String(round)], kwargs: {},
            }}),
        });
        const result = await response.json();
        if (result.error) {
            throw new Error("could not ask for the kill: " + JSON.stringify(result.error));
        }
    }
    window.__devopsSamePage = true;  // gone if anything reloads the page
    const samePage = () => {
        if (!window.__devopsSamePage) {
            throw new Error("the page was reloaded");
        }
        return true;
    };
    try {
        await waitFor(() => status() === "Running" &&
            document.querySelector('.o_devops_status_strip [data-state="up"]'),
            "the instance running, on its form");
        await killFromOutside(1);
        await waitFor(() => status() === "Down" && samePage(), "Down on the form", 30000);
        await waitFor(() => text(".o_form_view .alert-danger").includes("not running") &&
            document.querySelector('.o_devops_status_strip [data-state="down"]'),
            "the cause and the status strip");
        // Start: the user stays on the instance, which shows the start's progress.
        document.querySelector('.o_form_view button[name="action_start"]').click();
        await waitFor(() => ["Starting", "Running"].includes(status()), "Starting");
        await waitFor(() => status() === "Running" && samePage() &&
            text(".o_breadcrumb").includes("%(name)s"), "Running again, on the same form");
        // The Live state list follows the operate cron as well.
        await clickMenu("erplibre_devops.menu_operate_instance", "erplibre_devops.menu_operate");
        const row = () => [...document.querySelectorAll(".o_list_view .o_data_row")].find(
            (r) => r.textContent.includes("%(name)s"));
        await waitFor(() => row() && row().textContent.includes("Running"), "Running in the list");
        await killFromOutside(2);
        await waitFor(() => row() && row().textContent.includes("Down") && samePage(),
            "Down in Live state", 30000);
        console.log("test successful");
    } catch (error) {
        console.error("Live instance walk failed: " + error.message);
    }
})();
"""


@tagged("post_install", "-at_install")
class TestUiLive(BackgroundCase):
    def test_kill_is_seen_without_a_reload(self):
        tmp = tempfile.mkdtemp(prefix="devops-test-")
        self.addCleanup(shutil.rmtree, tmp, ignore_errors=True)
        write_health_server(tmp)
        workspace = self.env["devops.workspace"].create({"name": "Live", "path": tmp})
        instance = self.env["devops.instance"].create(
            {
                "name": "Watched instance",
                "workspace_id": workspace.id,
                "port": free_port(),
                "start_command": "python3 -u health_server.py {port}",
                "auto_restart": False,
            }
        )
        pid_file = instance._paths()[0]
        self.addCleanup(self._kill, pid_file)
        instance.action_start()
        self.env.flush_all()

        kills = []

        def outside_world():
            """The runner and the operate cron, as the crons would; and someone who kills
            the service when the browser asks for it."""
            self._operate_once(instance.id, kills, pid_file)

        with self.in_background(outside_world, every=0.5):
            self.browser_js(
                f"/odoo/action-erplibre_devops.action_instance/{instance.id}",
                WATCH_JS
                % {"helpers": JS_HELPERS, "kill_key": KILL_KEY, "name": "Watched instance"},
                ready="!!document.querySelector('.o_form_view')",
                login="admin",
                timeout=150,
            )
        self.assertEqual(kills, ["1", "2"])
        self.env.invalidate_all()
        self.assertEqual(instance.state, "down")
        self.assertEqual(len(instance.incident_ids), 2)

    def _operate_once(self, instance_id, kills, pid_file):
        self.env["devops.exec"]._run_pending()
        with self.env.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            asked = env["ir.config_parameter"].get_param(KILL_KEY)
            if asked and asked not in kills:
                kills.append(asked)
                self._kill(pid_file)
            env["devops.instance"].browse(instance_id)._operate()

    @staticmethod
    def _kill(pid_file):
        with contextlib.suppress(OSError, ValueError):
            with open(pid_file, encoding="ascii") as pids:
                os.killpg(int(pids.read()), signal.SIGKILL)
