/** @odoo-module **/
/**
 * An instance's log, followed: while "follow" is ticked, the dialog's record is saved (the
 * search and the number of lines) and read again every 2 seconds, and the view stays at the
 * end unless the user scrolled up to read.
 */
import {Component, onMounted, onPatched, onWillUnmount, useRef} from "@odoo/owl";
import {registry} from "@web/core/registry";
import {standardFieldProps} from "@web/views/fields/standard_field_props";

const REFRESH_MS = 2000;

export class LogTailField extends Component {
    static template = "erplibre_devops.LogTailField";
    static props = {...standardFieldProps};

    setup() {
        this.pre = useRef("pre");
        this.follow = true;
        let busy = false;
        let timer = null;
        const refresh = async () => {
            const record = this.props.record;
            if (busy || document.hidden || !record.data.follow || !record.resId) {
                return;
            }
            busy = true;
            try {
                if (record.dirty) {
                    await record.save();
                }
                await record.load();
            } finally {
                busy = false;
            }
        };
        onMounted(() => {
            this.scrollToEnd();
            timer = setInterval(refresh, REFRESH_MS);
        });
        onPatched(() => this.scrollToEnd());
        onWillUnmount(() => clearInterval(timer));
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

registry.category("fields").add("devops_log_tail", {
    component: LogTailField,
    supportedTypes: ["text"],
    fieldDependencies: [{name: "follow", type: "boolean"}],
});
