/** @odoo-module **/
/**
 * Output of a run, refreshed while the run is queued or running.
 *
 * Every second, as long as the record's state is "queued" or "running", the whole record
 * is reloaded (so the state, exit code and errors follow too); the view stays scrolled to
 * the end unless the user scrolled up to read.
 */
import {Component, onMounted, onPatched, onWillUnmount, useRef} from "@odoo/owl";
import {registry} from "@web/core/registry";
import {standardFieldProps} from "@web/views/fields/standard_field_props";

const LIVE_STATES = ["queued", "running"];
const REFRESH_MS = 1000;

export class LiveOutputField extends Component {
    static template = "erplibre_devops.LiveOutputField";
    static props = {...standardFieldProps};

    setup() {
        this.pre = useRef("pre");
        this.follow = true;
        this.loading = false;
        onMounted(() => {
            this.scrollToEnd();
            this.timer = setInterval(() => this.refresh(), REFRESH_MS);
        });
        onPatched(() => this.scrollToEnd());
        onWillUnmount(() => clearInterval(this.timer));
    }

    get live() {
        return LIVE_STATES.includes(this.props.record.data.state);
    }

    get text() {
        return this.props.record.data[this.props.name] || "";
    }

    async refresh() {
        const record = this.props.record;
        if (!this.live || this.loading || record.dirty || !record.resId) {
            return;
        }
        this.loading = true;
        try {
            await record.load();
        } finally {
            this.loading = false;
        }
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
