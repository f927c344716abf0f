/** @odoo-module **/
/**
 * A date shown as "12 s ago" (ticking), that also keeps its form's record fresh: the record
 * reloads as soon as it changed on the server (an instance's state and last check follow
 * the operate cron without a reload of the page).
 */
import {Component, onMounted, onWillUnmount, useState} from "@odoo/owl";
import {_t} from "@web/core/l10n/translation";
import {formatDateTime} from "@web/core/l10n/dates";
import {registry} from "@web/core/registry";
import {standardFieldProps} from "@web/views/fields/standard_field_props";
import {useChangePolling} from "./changes";

const POLL_MS = 3000;

export function ago(date, now = luxon.DateTime.now()) {
    if (!date) {
        return "";
    }
    const seconds = Math.max(0, Math.round(now.diff(date, "seconds").seconds));
    if (seconds < 60) {
        return _t("%s s ago", seconds);
    }
    if (seconds < 3600) {
        return _t("%s min ago", Math.floor(seconds / 60));
    }
    if (seconds < 86400) {
        return _t("%s h ago", Math.floor(seconds / 3600));
    }
    return formatDateTime(date);
}

export class SinceField extends Component {
    static template = "erplibre_devops.SinceField";
    static props = {...standardFieldProps};

    setup() {
        this.state = useState({now: luxon.DateTime.now()});
        let tick = null;
        onMounted(() => {
            tick = setInterval(() => (this.state.now = luxon.DateTime.now()), 1000);
        });
        onWillUnmount(() => clearInterval(tick));
        const record = () => this.props.record;
        useChangePolling(
            this.props.record.resModel,
            () => (record().resId ? [record().resId] : []),
            POLL_MS,
            () => record().load(),
            () => record().resId && !record().dirty
        );
    }

    get value() {
        return this.props.record.data[this.props.name];
    }

    get text() {
        return this.value ? ago(this.value, this.state.now) : _t("not yet");
    }

    get title() {
        return this.value ? formatDateTime(this.value) : "";
    }
}

registry.category("fields").add("devops_since", {
    component: SinceField,
    supportedTypes: ["datetime"],
});
