/** @odoo-module **/
/**
 * Small monitoring widgets:
 * - devops_uptime (float): "99.93 %" with a bar, or "no data" (the value is -1 before the
 *   first check: never 0 %);
 * - devops_status_strip (text, JSON [[date, state, http status, latency], …]): the last
 *   checks as coloured bars, oldest first;
 * - devops_uptime_days (text, JSON [[day, % or null], …]): uptime per day.
 */
import {Component} from "@odoo/owl";
import {_t} from "@web/core/l10n/translation";
import {deserializeDateTime, formatDateTime} from "@web/core/l10n/dates";
import {registry} from "@web/core/registry";
import {standardFieldProps} from "@web/views/fields/standard_field_props";

function colour(percent) {
    if (percent === null || percent === undefined || percent < 0) {
        return "bg-secondary";
    }
    if (percent >= 99.9) {
        return "bg-success";
    }
    return percent >= 95 ? "bg-warning" : "bg-danger";
}

function parse(text) {
    try {
        return JSON.parse(text || "[]");
    } catch {
        return [];
    }
}

export class UptimeField extends Component {
    static template = "erplibre_devops.UptimeField";
    static props = {...standardFieldProps, bar: {type: Boolean, optional: true}};
    static defaultProps = {bar: true};

    get value() {
        return this.props.record.data[this.props.name];
    }
    get known() {
        // a record not saved yet has no history: no data, never 0 %
        return Boolean(this.props.record.resId) && this.value !== false && this.value >= 0;
    }
    get text() {
        return this.known ? `${this.value.toFixed(2)} %` : _t("no data");
    }
    get barClass() {
        return colour(this.value);
    }
}

export class StatusStripField extends Component {
    static template = "erplibre_devops.StatusStripField";
    static props = {...standardFieldProps};

    get checks() {
        const labels = {up: _t("up"), down: _t("down"), stopped: _t("stopped")};
        return parse(this.props.record.data[this.props.name]).map(([date, state, status, ms]) => ({
            date,
            state,
            className: {up: "bg-success", down: "bg-danger"}[state] || "bg-secondary",
            title: `${formatDateTime(deserializeDateTime(date))}: ${labels[state] || state}` +
                (status ? `, HTTP ${status}` : "") + (ms ? `, ${Math.round(ms)} ms` : ""),
        }));
    }
}

export class UptimeDaysField extends Component {
    static template = "erplibre_devops.UptimeDaysField";
    static props = {...standardFieldProps};

    get days() {
        return parse(this.props.record.data[this.props.name]).map(([day, percent]) => ({
            day,
            label: day.slice(5),
            text: percent === null ? "—" : `${percent.toFixed(percent >= 99.995 ? 0 : 2)} %`,
            className: colour(percent),
            title: percent === null ? `${day}: ${_t("no data")}` : `${day}: ${percent} %`,
        }));
    }
}

registry.category("fields").add("devops_uptime", {
    component: UptimeField,
    supportedTypes: ["float"],
    extractProps: ({options}) => ({bar: options.bar !== false}),
});
registry.category("fields").add("devops_status_strip", {
    component: StatusStripField,
    supportedTypes: ["text"],
});
registry.category("fields").add("devops_uptime_days", {
    component: UptimeDaysField,
    supportedTypes: ["text"],
});
