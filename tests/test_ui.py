import contextlib
import datetime
import os
import shlex
import shutil
import tempfile
import threading
import time

from odoo import fields
from odoo.tests import HttpCase, tagged

from .test_code import DebugMixin, GitMixin

# Shared by the browser scripts below: wait for a condition, failing after a timeout.
JS_HELPERS = r"""
    const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
    async function waitFor(check, what, timeout = 30000) {
        const start = Date.now();
        while (Date.now() - start < timeout) {
            const found = check();
            if (found) {
                return found;
            }
            await sleep(50);
        }
        throw new Error("Timed out waiting for " + what);
    }
    const byXmlid = (xmlid) => document.querySelector(`[data-menu-xmlid="${xmlid}"]`);
    // Click a navbar menu, opening its section (or the "More" dropdown) when needed.
    async function clickMenu(xmlid, parent) {
        let item = byXmlid(xmlid);
        if (!item && parent) {
            let toggle = byXmlid(parent);
            if (!toggle) {
                document.querySelector(".o_menu_sections_more button").click();
                toggle = await waitFor(() => byXmlid(parent), "section " + parent);
            }
            toggle.click();
        } else if (!item) {
            const more = document.querySelector(".o_menu_sections_more button");
            if (more) {
                more.click();
            }
        }
        item = await waitFor(() => byXmlid(xmlid), "menu " + xmlid);
        item.click();
    }
"""

# Walks the app as a person would: click each menu of the navbar (opening the "More"
# dropdown when the screen is too narrow for all sections), wait until the screen it opens
# shows what it should, and fail on any JavaScript error (browser_js fails on console.error
# and on uncaught exceptions).
WALK_MENUS_JS = r"""
(async function () {
%(helpers)s
    const text = (selector) =>
        Array.from(document.querySelectorAll(selector))
            .map((el) => el.textContent)
            .join(" ");
    // A form field's shown value: an input's or textarea's value, else its text.
    function fieldValue(name) {
        const field = document.querySelector(`.o_form_view .o_field_widget[name="${name}"]`);
        if (!field) {
            return "";
        }
        const input = field.querySelector("input, textarea");
        return (input ? input.value : field.textContent).trim();
    }
    const STAGES = %(stages)s;
    try {
        await waitFor(() => document.querySelector(".o_main_navbar"), "the navbar");
        // The home page: instances by state, machines, incidents, failed runs.
        await clickMenu("erplibre_devops.menu_overview");
        await waitFor(() => text(".o_devops_overview_instances").includes("Stopped: 1") &&
            text(".o_devops_overview_machines").includes("This machine") &&
            document.querySelector(".o_devops_overview_incidents") &&
            document.querySelector(".o_devops_overview_runs"), "the overview");
        for (const [code, name] of STAGES) {
            const section = "erplibre_devops.menu_" + code;
            await clickMenu(section + "_stage", section);
            await waitFor(
                () => fieldValue("name") === name && fieldValue("description").length > 40,
                "the page of stage " + name
            );
        }
        // Plan: the board has a column for each of the eight stages.
        await clickMenu("erplibre_devops.menu_plan_change", "erplibre_devops.menu_plan");
        await waitFor(() => STAGES.every(([, name]) =>
            text(".o_kanban_group .o_column_title").includes(name)), "the Plan board");
        await clickMenu("erplibre_devops.menu_plan_dora", "erplibre_devops.menu_plan");
        // The delivery metrics: named, their figures, the weeks; no save/discard indicator
        // (the figures follow the period).
        await waitFor(() => text(".o_devops_dora_figures").includes("No data")
            && text(".o_devops_dora_history").includes("Week of")
            && text(".o_breadcrumb").includes("Delivery metrics")
            && [...document.querySelectorAll(".o_form_status_indicator")].every(
                (el) => getComputedStyle(el).display === "none"), "the delivery metrics");
        // Build: the builds and the modules the scans found (none yet: their help says how).
        await clickMenu("erplibre_devops.menu_build_build", "erplibre_devops.menu_build");
        await waitFor(() => text(".o_breadcrumb").includes("Builds")
            && text(".o_view_nocontent").includes("Build on a workspace"), "the Builds list");
        await clickMenu("erplibre_devops.menu_build_module", "erplibre_devops.menu_build");
        await waitFor(() => text(".o_breadcrumb").includes("Modules")
            && text(".o_view_nocontent").includes("Scan modules"), "the Modules list");
        // Test: the board, the runs and the results (none yet: their help says how).
        await clickMenu("erplibre_devops.menu_test_board", "erplibre_devops.menu_test");
        await waitFor(() => text(".o_breadcrumb").includes("Test board")
            && text(".o_view_nocontent").includes("Run tests on a workspace"), "the Test board");
        await clickMenu("erplibre_devops.menu_test_run", "erplibre_devops.menu_test");
        await waitFor(() => text(".o_breadcrumb").includes("Test runs")
            && text(".o_view_nocontent").includes("throwaway database"), "the Test runs list");
        await clickMenu("erplibre_devops.menu_test_result", "erplibre_devops.menu_test");
        await waitFor(() => text(".o_breadcrumb").includes("Test results")
            && text(".o_view_nocontent").includes("pass rate"), "the Test results list");
        await clickMenu("erplibre_devops.menu_code_repo", "erplibre_devops.menu_code");
        await waitFor(() => text(".o_breadcrumb").includes("Repositories")
            && text(".o_view_nocontent").includes("Clone"), "the Repositories list");
        await clickMenu("erplibre_devops.menu_machine", "erplibre_devops.menu_devops");
        await waitFor(() => text(".o_list_view .o_data_row").includes("This machine")
            && text(".o_list_view thead").includes("Connection")
            && text(".o_list_view thead").includes("Last test"),
            "this machine in the Machines list, with its connection status");
        await clickMenu("erplibre_devops.menu_workspace", "erplibre_devops.menu_devops");
        await waitFor(() => text(".o_breadcrumb").includes("Workspaces")
            && text(".o_list_view thead").includes("Branch")
            && text(".o_list_view thead").includes("Local changes")
            && text(".o_list_view thead").includes("Last commit")
            && text(".o_list_view .o_data_row").includes("git problem"),
            "the Workspaces list, with the git summary of each");
        await clickMenu("erplibre_devops.menu_instance", "erplibre_devops.menu_devops");
        await waitFor(() => text(".o_breadcrumb").includes("Instances")
            && document.querySelector(".o_list_view, .o_view_nocontent"), "the Instances list");
        const dialogs = [["menu_code_wizard", "workspace_id"], ["menu_code_debug", "mode"]];
        for (const [menu, field] of dialogs) {
            await clickMenu("erplibre_devops." + menu, "erplibre_devops.menu_code");
            await waitFor(() => document.querySelector(`.modal .o_field_widget[name="${field}"]`),
                "the dialog of " + menu);
            document.querySelector(".modal .btn-close").click();
            await waitFor(() => !document.querySelector(".modal"), "the dialog to close");
        }
        await clickMenu("erplibre_devops.menu_code_todo", "erplibre_devops.menu_code");
        await waitFor(() => text(".o_breadcrumb").includes("TODOs"), "the TODOs");
        await clickMenu("erplibre_devops.menu_deploy_update", "erplibre_devops.menu_deploy");
        // Grouped by state: open the group of the rolled back runs.
        const group = await waitFor(() => text(".o_breadcrumb").includes("pipeline runs") &&
            [...document.querySelectorAll(".o_group_header")].find(
                (g) => g.textContent.includes("Rolled back")), "the deploy pipeline runs");
        group.click();
        await waitFor(() => text(".o_list_view").includes("Update Walked instance"),
            "the rolled back update");
        // A pipeline run: its steps as a timeline, the command's output one click away.
        const row = [...document.querySelectorAll(".o_data_row")].find(
            (r) => r.textContent.includes("Update Walked instance"));
        row.querySelector(".o_data_cell").click();
        await waitFor(() => document.querySelectorAll(".o_devops_timeline_step").length === 7,
            "the run's seven steps on a timeline");
        const states = [...document.querySelectorAll(".o_devops_timeline_step")].map(
            (li) => li.dataset.state);
        if (states.join() !== "done,done,skipped,failed,skipped,done,done") {
            throw new Error("unexpected step states: " + states.join());
        }
        document.querySelector(".o_devops_timeline_output").click();
        await waitFor(() => text(".o_breadcrumb").includes("git pull") &&
            text(".o_devops_output").includes("Already up to date."),
            "the output of the checkout");
        await clickMenu("erplibre_devops.menu_operate_instance", "erplibre_devops.menu_operate");
        await waitFor(() => text(".o_breadcrumb").includes("Live state"), "the live state");
        await clickMenu("erplibre_devops.menu_operate_incident", "erplibre_devops.menu_operate");
        await waitFor(() => text(".o_breadcrumb").includes("Incidents"), "the incidents");
        await clickMenu("erplibre_devops.menu_operate_backup", "erplibre_devops.menu_operate");
        await waitFor(() => text(".o_breadcrumb").includes("Backups"), "the backups");
        await clickMenu("erplibre_devops.menu_operate_alert", "erplibre_devops.menu_operate");
        await waitFor(() => text(".o_breadcrumb").includes("Alerts"), "the alerts");
        await clickMenu(
            "erplibre_devops.menu_operate_alert_delivery", "erplibre_devops.menu_operate");
        await waitFor(() => text(".o_breadcrumb").includes("Alert deliveries"), "the deliveries");
        await clickMenu("erplibre_devops.menu_operate_maintenance", "erplibre_devops.menu_operate");
        await waitFor(() => text(".o_breadcrumb").includes("Maintenance windows"), "the windows");
        await clickMenu("erplibre_devops.menu_monitor_dashboard", "erplibre_devops.menu_monitor");
        await waitFor(() => text(".o_breadcrumb").includes("Dashboard") &&
            document.querySelector(".o_devops_sparkline svg polyline"), "the dashboard's graph");
        document.querySelector(".o_data_row .o_data_cell").click();
        await waitFor(() => fieldValue("name") === "Walked instance" &&
            document.querySelector(".o_form_view .o_devops_sparkline svg") &&
            document.querySelector('.o_form_view .o_field_widget[name="last_check_date"]') &&
            document.querySelectorAll('.o_devops_status_strip [data-state="up"]').length === 5 &&
            document.querySelectorAll(".o_devops_uptime_days .o_devops_day_box").length === 7,
            "the instance form, its status strip and its uptime per day");
        await clickMenu("erplibre_devops.menu_monitor_check", "erplibre_devops.menu_monitor");
        await waitFor(() => document.querySelector(".o_graph_view"), "the history graph");
        await clickMenu("erplibre_devops.menu_config_stage", "erplibre_devops.menu_config");
        await waitFor(() => document.querySelectorAll(".o_list_view .o_data_row").length === 8,
            "the eight stages");
        await clickMenu("erplibre_devops.menu_config_pipeline", "erplibre_devops.menu_config");
        await waitFor(() => text(".o_list_view").includes("Update"), "the pipelines");
        [...document.querySelectorAll(".o_data_row")].find((r) => r.textContent.includes("Update"))
            .querySelector(".o_data_cell").click();
        await waitFor(() => document.querySelectorAll(
            '.o_field_widget[name="main_step_ids"] .o_data_row').length === 5 &&
            document.querySelectorAll(
            '.o_field_widget[name="rollback_step_ids"] .o_data_row').length === 2,
            "the Update pipeline's steps and rollback steps");
        await clickMenu("erplibre_devops.menu_config_settings", "erplibre_devops.menu_config");
        await waitFor(() => document.querySelector('.o_form_view [name="devops_command_timeout"]'),
            "the DevOps settings");
        console.log("test successful");
    } catch (error) {
        console.error("DevOps menu walk failed: " + error.message);
    }
})();
"""

# Run commands from the wizard and watch them: the output must appear while the command
# runs (the form refreshes itself, no reload), then the final state; Cancel stops a run.
RUN_AND_WATCH_JS = r"""
(async function () {
%(helpers)s
    async function openWizard() {
        await clickMenu("erplibre_devops.menu_exec_wizard", "erplibre_devops.menu_devops");
        const textarea = await waitFor(
            () => document.querySelector('.modal .o_field_widget[name="command"] textarea'),
            "the wizard's command field"
        );
        // The dialog is for typing a command: its field has the focus, not the machine's.
        await waitFor(() => document.activeElement === textarea, "the command field's focus");
        return textarea;
    }
    async function run(command) {
        const textarea = await openWizard();
        textarea.value = command;
        textarea.dispatchEvent(new Event("input", {bubbles: true}));
        textarea.dispatchEvent(new Event("change", {bubbles: true}));
        await sleep(100);
        document.querySelector('.modal button[name="action_run"]').click();
        await waitFor(() => !document.querySelector(".modal") &&
            document.querySelector(".o_form_view .o_devops_output"), "the run's form");
    }
    const output = () => document.querySelector(".o_form_view .o_devops_output").textContent;
    const live = () => Boolean(document.querySelector(".o_devops_live_badge"));
    const state = () => {
        const current = document.querySelector(".o_statusbar_status .o_arrow_button_current");
        return current ? current.textContent.trim() : "";
    };
    try {
        await run("echo first; sleep 4; echo second");
        await waitFor(() => output() === "first\n" && live() && state() === "Running",
            "'first' while the command runs");
        await waitFor(() => output() === "first\nsecond\n" && !live() && state() === "Done",
            "'second' and Done at the end");
        await run("echo started; sleep 60");
        await waitFor(() => output() === "started\n" && state() === "Running", "a long run");
        document.querySelector('button[name="action_cancel"]').click();
        await waitFor(() => state() === "Cancelled" && !live(), "the cancelled state");
        console.log("test successful");
    } catch (error) {
        console.error("Run and watch failed: " + error.message);
    }
})();
"""


class BackgroundCase(HttpCase):
    """Work in a thread beside the browser, as the crons would.

    The thread starts only once browser_js has logged in: its cursors share the test's
    connection, which the test itself uses without a lock until then."""

    def authenticate(self, *args, **kwargs):
        result = super().authenticate(*args, **kwargs)
        if getattr(self, "_logged_in", None) is not None:
            self._logged_in.set()
        return result

    @contextlib.contextmanager
    def in_background(self, work, every=0.2):
        """Call ``work()`` every ``every`` seconds while the block runs (once logged in)."""
        self._logged_in, stop, failures = threading.Event(), threading.Event(), []

        def loop():
            while not self._logged_in.wait(0.1):
                if stop.is_set():
                    return
            time.sleep(1)  # browser_js flushes the test cursor after logging in
            while not stop.is_set():
                try:
                    work()
                except Exception as error:  # reported when the block ends
                    failures.append(error)
                    return
                stop.wait(every)

        thread = threading.Thread(target=loop, name="devops-test-background")
        thread.start()
        try:
            yield failures
        finally:
            stop.set()
            thread.join(90)
            self._logged_in = None
        if failures:
            raise failures[0]


# What a user does in the Code and Debug dialogs: choosing a workspace loads it at once, a
# file's diff shows coloured, and a traceback opens on the user's own frame.
CODE_AND_DEBUG_JS = r"""
(async function () {
%(helpers)s
    const modal = () => document.querySelector(".modal");
    try {
        // Debug: from the failed run, the user's frame first and open, the others folded.
        (await waitFor(() => document.querySelector('.o_form_view button[name="action_debug"]'),
            "the run's Debug button")).click();
        const frames = await waitFor(() => {
            const found = document.querySelectorAll(".modal .o_devops_frame");
            return found.length >= 3 && found;
        }, "the frames of the traceback");
        const [own, next] = frames;
        if (!own.open || !own.querySelector(".o_devops_frame_file").textContent.endsWith(
                "/app/lib.py") || own.querySelector(".o_devops_frame_line").textContent !== "6") {
            throw new Error("the first frame is not the user's own, open: " + own.outerHTML);
        }
        if (!own.querySelector(".o_devops_source_hit").textContent.includes(
                "return extlib.divide(total, 0)") ||
                !own.querySelector(".o_devops_blame").textContent.includes("Ada")) {
            throw new Error("the user's frame shows no source or blame: " + own.outerHTML);
        }
        if (next.open || !next.classList.contains("o_devops_frame_outside")) {
            throw new Error("the frame outside the workspace is not folded: " + next.outerHTML);
        }
        next.querySelector("summary").click();
        await waitFor(() => next.open && next.querySelector(".o_devops_source_hit") &&
            next.querySelector(".o_devops_source_hit").offsetHeight > 0 &&
            next.querySelector(".o_devops_source_hit").textContent.includes("return a / b"),
            "the folded frame opened, with its source");
        modal().querySelector(".btn-close").click();
        await waitFor(() => !modal(), "the Debug dialog to close");
        // Code: picking the workspace loads its changes at once; a file's diff is coloured.
        await clickMenu("erplibre_devops.menu_code_wizard", "erplibre_devops.menu_code");
        const input = await waitFor(
            () => document.querySelector('.modal .o_field_widget[name="workspace_id"] input'),
            "the workspace field");
        input.focus();
        input.value = "Browser repo";
        input.dispatchEvent(new Event("input", {bubbles: true}));
        const option = await waitFor(() => [...document.querySelectorAll(
            ".o-autocomplete--dropdown-item")].find((o) => o.textContent.includes("Browser repo")),
            "the workspace in the dropdown");
        option.click();
        // Loaded at once, and saved (the screen is blocked until then).
        const row = await waitFor(() => !document.querySelector(".o_blockUI") &&
            [...document.querySelectorAll('.modal .o_field_widget[name="file_ids"] .o_data_row')]
                .find((r) => r.textContent.includes("app.py")), "the changed file, loaded at once");
        const author = document.querySelector('.modal .o_field_widget[name="author"] input');
        if (!author || author.value !== "Grace Hopper <grace@example.com>") {
            throw new Error("the author is not the repository's identity: " +
                (author && author.value));
        }
        row.querySelector('button[name="action_diff"]').click();
        const added = await waitFor(() => {
            const warning = document.querySelector(".o_notification.border-danger, " +
                ".o_notification .text-danger, .o_notification_manager .bg-danger");
            if (warning) {
                throw new Error("a notification instead of the diff: " + warning.textContent);
            }
            return [...document.querySelectorAll(".modal .o_devops_diff_add")].find(
                (d) => d.textContent.includes("<b>bold</b>"));
        }, "the added line in the diff");
        const colour = getComputedStyle(added).backgroundColor;
        if (["transparent", "rgba(0, 0, 0, 0)", "rgb(255, 255, 255)"].includes(colour)) {
            throw new Error("the added line has no colour: " + colour);
        }
        if (document.querySelector(".modal .o_devops_diff b")) {
            throw new Error("HTML of the file was rendered, not shown");
        }
        const removed = document.querySelector(".modal .o_devops_diff_del");
        if (!removed || getComputedStyle(removed).backgroundColor === colour) {
            throw new Error("removed lines do not look different from added ones");
        }
        console.log("test successful");
    } catch (error) {
        console.error("Code and debug dialogs failed: " + error.message);
    }
})();
"""


@tagged("post_install", "-at_install")
class TestUi(BackgroundCase):
    def test_walk_every_menu(self):
        # An instance with some history, so that the dashboard draws its latency graph.
        workspace = self.env["devops.workspace"].create({"name": "Walked", "path": "/srv/walk"})
        instance = self.env["devops.instance"].create(
            {"name": "Walked instance", "workspace_id": workspace.id, "port": 8099}
        )
        now = fields.Datetime.now()
        self.env["devops.instance.check"].create(
            [
                {
                    "instance_id": instance.id,
                    "date": now - datetime.timedelta(hours=hours),
                    "state": "up",
                    "latency_ms": 10 + hours,
                }
                for hours in range(5)
            ]
        )
        # A finished update, rolled back, for the pipeline run form.
        checkout = self.env["devops.exec"].create(
            {
                "machine_id": workspace.machine_id.id,
                "workspace_id": workspace.id,
                "command": "git pull --ff-only",
                "argv": '["git", "pull", "--ff-only"]',
                "user_id": self.env.ref("base.user_admin").id,
                "state": "done",
                "exit_code": 0,
                "output": "Already up to date.\n",
            }
        )
        pipeline = self.env.ref("erplibre_devops.pipeline_update")
        states = ["done", "skipped", "failed", "skipped", "done", "done"]
        steps = pipeline.step_ids.sorted(lambda s: (s.rollback, s.sequence))
        self.env["devops.pipeline.run"].create(
            {
                "name": "Update Walked instance",
                "pipeline_id": pipeline.id,
                "workspace_id": workspace.id,
                "instance_id": instance.id,
                "machine_id": workspace.machine_id.id,
                "user_id": self.env.ref("base.user_admin").id,
                "state": "rolled_back",
                "message": "Not healthy after the restart.\nRolled back to 0123456789.",
                "step_ids": [
                    (
                        0,
                        0,
                        {
                            "name": step.name,
                            "kind": step.kind,
                            "action": step.action,
                            "sequence": step.sequence,
                            "rollback": step.rollback,
                            "state": state,
                            "duration": 1.5,
                            "exec_id": checkout.id if step.action == "git_checkout" else False,
                        },
                    )
                    for step, state in zip(steps, ["done", *states], strict=True)
                ],
            }
        )
        stages = self.env["devops.stage"].search([])
        self.assertEqual(len(stages), 8)
        code = WALK_MENUS_JS % {
            "helpers": JS_HELPERS,
            "stages": [[s.code, s.name] for s in stages],
        }
        self.browser_js(
            "/odoo/action-erplibre_devops.action_stage_plan",
            code,
            ready="!!document.querySelector('.o_main_navbar .o_menu_sections')",
            login="admin",
            timeout=180,
        )

    def test_run_and_watch_live_output(self):
        """The runner works in the background, as the cron would, while the browser watches."""
        with self.in_background(self.env["devops.exec"]._run_pending):
            self.browser_js(
                "/odoo/action-erplibre_devops.action_exec",
                RUN_AND_WATCH_JS % {"helpers": JS_HELPERS},
                ready="!!document.querySelector('.o_main_navbar .o_menu_sections')",
                login="admin",
                timeout=120,
            )
        runs = self.env["devops.exec"].search([], order="id")
        self.assertEqual(runs.mapped("state")[-2:], ["done", "cancelled"])

    def test_code_and_debug_dialogs(self):
        """The Code dialog loads the workspace picked and colours a file's diff; the Debug
        dialog opens a traceback on the user's own frame."""
        base = tempfile.mkdtemp(prefix="devops-ui-")
        self.addCleanup(shutil.rmtree, base, ignore_errors=True)
        _remote, clone = GitMixin.make_repos(base)
        GitMixin.git("config", "user.name", "Grace Hopper", cwd=clone)
        GitMixin.git("config", "user.email", "grace@example.com", cwd=clone)
        os.makedirs(os.path.join(clone, "app"))
        for path, text in DebugMixin.SCRIPT.items():
            with open(os.path.join(clone, path), "w", encoding="utf-8") as handle:
                handle.write(text)
        GitMixin.git("add", "app", cwd=clone)
        GitMixin.git("commit", "-q", "-m", "the bug", cwd=clone)
        outside = os.path.join(base, "outside")
        os.makedirs(outside)
        with open(os.path.join(outside, "extlib.py"), "w", encoding="utf-8") as handle:
            handle.write("def divide(a, b):\n    return a / b\n")
        with open(os.path.join(clone, "app.py"), "w", encoding="utf-8") as handle:
            handle.write("print('changed')\n# <b>bold</b>\n")
        workspace = self.env["devops.workspace"].create({"name": "Browser repo", "path": clone})
        self.assertEqual(workspace.git_branch, "main")
        command = f"cd app && PYTHONPATH={shlex.quote(outside)} python3 main.py"
        run = self.env["devops.exec"].browse(workspace.debug_command(command))
        for _attempt in range(600):
            self.env.flush_all()  # what a request would have committed before the runner reads
            self.env["devops.exec"]._run_pending()
            self.env.invalidate_all()
            if run.state not in ("queued", "running"):
                break
        self.assertEqual((run.state, run.error_count), ("failed", 1))
        self.browser_js(
            f"/odoo/action-erplibre_devops.action_exec/{run.id}",
            CODE_AND_DEBUG_JS % {"helpers": JS_HELPERS},
            ready="!!document.querySelector('.o_form_view button[name=\"action_debug\"]')",
            login="admin",
            timeout=120,
        )
