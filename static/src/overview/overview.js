/** @odoo-module **/
/**
 * The app's home page: machines and their last test, instances by state, open incidents,
 * recent failed runs — each a click away — following the operate cron without a reload.
 */
import {Component, onWillStart, useState} from "@odoo/owl";
import {deserializeDateTime, formatDateTime} from "@web/core/l10n/dates";
import {registry} from "@web/core/registry";
import {useService} from "@web/core/utils/hooks";
import {useChangePolling} from "../live/changes";

export class DevopsOverview extends Component {
    static template = "erplibre_devops.Overview";
    static props = ["*"];

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.state = useState({data: null});
        onWillStart(() => this.load());
        useChangePolling("devops.instance", () => null, 5000, () => this.load());
        useChangePolling("devops.incident", () => null, 5000, () => this.load());
    }

    async load() {
        this.state.data = await this.orm.call("devops.instance", "overview_data", []);
    }

    open(model, id) {
        this.action.doAction({
            type: "ir.actions.act_window",
            res_model: model,
            res_id: id,
            views: [[false, "form"]],
            target: "current",
        });
    }

    /** A date the server sends in UTC ("2026-11-30 08:04:35"), in the user's time zone. */
    local(text) {
        return text ? formatDateTime(deserializeDateTime(text)) : "";
    }

    openList(xmlid) {
        this.action.doAction(xmlid);
    }
}

registry.category("actions").add("devops_overview", DevopsOverview);
