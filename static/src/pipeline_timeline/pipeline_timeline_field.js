/** @odoo-module **/
/**
 * The steps of a pipeline run as a vertical timeline: each step's state (icon and badge),
 * duration and message; a step that ran a command opens its run (live output) in one click.
 * While the pipeline run is queued, running or waiting, the record reloads every second.
 */
import {Component} from "@odoo/owl";
import {_t} from "@web/core/l10n/translation";
import {registry} from "@web/core/registry";
import {useService} from "@web/core/utils/hooks";
import {standardFieldProps} from "@web/views/fields/standard_field_props";
import {useRecordRefresh} from "../record_refresh";

const LIVE_STATES = ["queued", "running", "waiting"];
const ICONS = {
    pending: "fa-circle-o text-muted",
    running: "fa-circle-o-notch fa-spin text-info",
    waiting: "fa-hourglass-half text-info",
    done: "fa-check-circle text-success",
    failed: "fa-times-circle text-danger",
    skipped: "fa-minus-circle text-muted",
    cancelled: "fa-ban text-warning",
};
const BADGES = {
    pending: "text-bg-light",
    running: "text-bg-info",
    waiting: "text-bg-info",
    done: "text-bg-success",
    failed: "text-bg-danger",
    skipped: "text-bg-light",
    cancelled: "text-bg-warning",
};

export class PipelineTimelineField extends Component {
    static template = "erplibre_devops.PipelineTimelineField";
    static props = {...standardFieldProps};

    setup() {
        this.action = useService("action");
        useRecordRefresh(() => this.props.record, 1000, () => this.live);
    }

    get live() {
        return LIVE_STATES.includes(this.props.record.data.state);
    }

    get steps() {
        return this.props.record.data[this.props.name].records.map((step) => {
            const data = step.data;
            return {
                id: step.resId,
                name: data.name,
                state: data.state,
                stateLabel: this.stepStateLabel(step),
                icon: ICONS[data.state] || "fa-circle-o",
                badge: BADGES[data.state] || "text-bg-light",
                rollback: data.rollback,
                duration: this.formatDuration(data.duration, data.state),
                message: data.message || "",
                // A many2one value is an [id, display name] pair in Odoo 18's web client.
                execId: data.exec_id ? data.exec_id[0] : false,
            };
        });
    }

    stepStateLabel(step) {
        const selection = step.fields.state.selection || [];
        const found = selection.find(([value]) => value === step.data.state);
        return found ? found[1] : step.data.state;
    }

    formatDuration(seconds, state) {
        if (!seconds || ["pending", "skipped"].includes(state)) {
            return "";
        }
        if (seconds < 60) {
            return `${seconds.toFixed(1)} s`;
        }
        const minutes = Math.floor(seconds / 60);
        return `${minutes} min ${Math.round(seconds % 60)} s`;
    }

    openRun(step) {
        if (!step.execId) {
            return;
        }
        this.action.doAction({
            type: "ir.actions.act_window",
            res_model: "devops.exec",
            res_id: step.execId,
            views: [[false, "form"]],
            target: "current",
            name: _t("Output of %s", step.name),
        });
    }
}

registry.category("fields").add("devops_pipeline_timeline", {
    component: PipelineTimelineField,
    supportedTypes: ["one2many"],
    relatedFields: [
        {name: "name", type: "char"},
        {
            name: "state",
            type: "selection",
            selection: [
                ["pending", _t("Pending")],
                ["running", _t("Running")],
                ["waiting", _t("Waiting")],
                ["done", _t("Done")],
                ["failed", _t("Failed")],
                ["skipped", _t("Skipped")],
                ["cancelled", _t("Cancelled")],
            ],
        },
        {name: "duration", type: "float"},
        {name: "message", type: "text"},
        {name: "rollback", type: "boolean"},
        {name: "exec_id", type: "many2one", relation: "devops.exec"},
    ],
    fieldDependencies: [{name: "state", type: "selection"}],
});
