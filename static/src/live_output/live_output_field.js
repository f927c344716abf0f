/** @odoo-module **/
/**
 * Output of a run, refreshed while the run is queued or running.
 *
 * Every second, as long as the record's state is "queued" or "running", the whole record
 * is reloaded (so the state, exit code and errors follow too); the view stays scrolled to
 * the end unless the user scrolled up to read.
 */
import {Component, onMounted, onPatched, useRef} from "@odoo/owl";
import {registry} from "@web/core/registry";
import {standardFieldProps} from "@web/views/fields/standard_field_props";
import {useRecordRefresh} from "../record_refresh";

const LIVE_STATES = ["queued", "running"];
const REFRESH_MS = 1000;

export class LiveOutputField extends Component {
    static template = "erplibre_devops.LiveOutputField";
    static props = {...standardFieldProps};

    setup() {
        this.pre = useRef("pre");
        this.follow = true;
        onMounted(() => this.scrollToEnd());
        onPatched(() => this.scrollToEnd());
        useRecordRefresh(() => this.props.record, REFRESH_MS, () => this.live);
    }

    get live() {
        return LIVE_STATES.includes(this.props.record.data.state);
    }

    get text() {
        return this.props.record.data[this.props.name] || "";
    }

    onScroll() {
        const el = this.pre.el;
        this.follow = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
    }

    scrollToEnd() {
        if (this.follow && this.pre.el) {
            this.pre.el.scrollTop = this.pre.el.scrollHeight;
        }
    }
}

export const liveOutputField = {
    component: LiveOutputField,
    supportedTypes: ["text"],
    fieldDependencies: [{name: "state", type: "selection"}],
};

registry.category("fields").add("devops_live_output", liveOutputField);
