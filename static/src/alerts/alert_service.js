/** @odoo-module **/
/**
 * DevOps alerts as notifications of the web client (the addon depends on base and web only:
 * no bus). For DevOps users, every POLL_MS (and when the tab comes back into view) it asks
 * the server for the current user's alerts not shown yet — one cheap call, which marks them
 * shown — and shows each with the notification service, in every open tab of the user (a
 * BroadcastChannel passes them from the tab that asked to the others): sticky for an
 * instance down or given up, with a button that opens the instance. The server decides who
 * gets them: the DevOps managers, and the users who asked in their preferences.
 */
import {browser} from "@web/core/browser/browser";
import {_t} from "@web/core/l10n/translation";
import {registry} from "@web/core/registry";
import {user} from "@web/core/user";

const POLL_MS = 20000;
const FIRST_POLL_MS = 3000;

export const devopsAlertService = {
    dependencies: ["orm", "notification", "action"],

    start(env, {orm, notification, action}) {
        let busy = false;
        // One tab asks the server (which marks the alerts shown); every open tab of the user
        // shows them: the tab that got them passes them on to the others.
        const channel =
            typeof BroadcastChannel === "undefined"
                ? null
                : new BroadcastChannel(`erplibre_devops_alerts_${user.userId}`);

        function show(alert) {
            const buttons = [];
            let close = null;
            // The record it is about: an instance, or another (a test run a commit broke).
            const [model, id, label] = alert.instance_id
                ? ["devops.instance", alert.instance_id, _t("Open the instance")]
                : [alert.res_model, alert.res_id, _t("Open")];
            if (model && id) {
                buttons.push({
                    name: label,
                    primary: true,
                    onClick: () => {
                        if (close) {
                            close();
                        }
                        action.doAction({
                            type: "ir.actions.act_window",
                            res_model: model,
                            res_id: id,
                            views: [[false, "form"]],
                        });
                    },
                });
            }
            close = notification.add(alert.message || alert.title, {
                title: alert.message ? alert.title : undefined,
                type: alert.type || "warning",
                sticky: Boolean(alert.sticky),
                buttons,
            });
        }

        async function poll() {
            if (busy || document.hidden) {
                return;
            }
            busy = true;
            try {
                const alerts = await orm.silent.call("devops.alert", "poll_notifications", []);
                for (const alert of alerts) {
                    show(alert);
                }
                if (alerts.length && channel) {
                    channel.postMessage(alerts);
                }
            } catch {
                // Offline, logged out, the server restarting: the next poll asks again.
            } finally {
                busy = false;
            }
        }

        user.hasGroup("erplibre_devops.group_devops_user").then((isDevopsUser) => {
            if (!isDevopsUser) {
                return;
            }
            if (channel) {
                channel.onmessage = (event) => {
                    for (const alert of Array.isArray(event.data) ? event.data : []) {
                        show(alert);
                    }
                };
            }
            browser.setTimeout(poll, FIRST_POLL_MS);
            browser.setInterval(poll, POLL_MS);
            document.addEventListener("visibilitychange", () => {
                if (!document.hidden) {
                    poll();
                }
            });
        });
    },
};

registry.category("services").add("devops_alerts", devopsAlertService);
