/** @odoo-module **/
/**
 * A run's duration: while it runs, the time since it started, ticking every second; then the
 * measured duration ("0.42 s", "2 min 5 s").
 */
import {Component, onMounted, onWillUnmount, useState} from "@odoo/owl";
import {registry} from "@web/core/registry";
import {standardFieldProps} from "@web/views/fields/standard_field_props";

export function formatSeconds(seconds, precise = true) {
    if (seconds < 60 && precise) {
        return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
    }
    const whole = Math.round(seconds);
    if (whole < 60) {
        return `${whole} s`;
    }
    const minutes = Math.floor(whole / 60);
    if (minutes < 60) {
        return `${minutes} min ${whole % 60} s`;
    }
    return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export class DurationField extends Component {
    static template = "erplibre_devops.DurationField";
    static props = {...standardFieldProps};

    setup() {
        this.state = useState({now: luxon.DateTime.now()});
        let tick = null;
        onMounted(() => {
            tick = setInterval(() => (this.state.now = luxon.DateTime.now()), 1000);
        });
        onWillUnmount(() => clearInterval(tick));
    }

    get running() {
        return this.props.record.data.state === "running" && this.props.record.data.date_start;
    }

    get text() {
        if (this.running) {
            const started = this.props.record.data.date_start;
            return formatSeconds(Math.max(0, this.state.now.diff(started, "seconds").seconds));
        }
        const value = this.props.record.data[this.props.name];
        return this.props.record.data.state === "queued" ? "" : formatSeconds(value || 0);
    }
}

registry.category("fields").add("devops_duration", {
    component: DurationField,
    supportedTypes: ["float"],
    fieldDependencies: [
        {name: "state", type: "selection"},
        {name: "date_start", type: "datetime"},
    ],
});

/**
 * The length of a span in minutes (an incident, a state of an instance's history): while it
 * is open (no end yet), the time since it started, ticking; then "2 min 5 s", "3 h 12 min".
 */
export class SpanMinutesField extends DurationField {
    get running() {
        return !this.props.record.data.date_end && this.props.record.data.date_start;
    }

    get text() {
        if (this.running) {
            const started = this.props.record.data.date_start;
            return formatSeconds(
                Math.max(0, this.state.now.diff(started, "seconds").seconds),
                false
            );
        }
        return formatSeconds((this.props.record.data[this.props.name] || 0) * 60, false);
    }
}

registry.category("fields").add("devops_span_minutes", {
    component: SpanMinutesField,
    supportedTypes: ["float"],
    fieldDependencies: [
        {name: "date_start", type: "datetime"},
        {name: "date_end", type: "datetime"},
    ],
});
