/** @odoo-module **/
/**
 * A date field that keeps its record fresh: while the form is open (and not being edited),
 * the record is reloaded every few seconds, so an instance's state, last check and
 * incidents follow what the operate cron finds without a page reload.
 */
import {Component} from "@odoo/owl";
import {formatDateTime} from "@web/core/l10n/dates";
import {registry} from "@web/core/registry";
import {standardFieldProps} from "@web/views/fields/standard_field_props";
import {useRecordRefresh} from "../record_refresh";

const REFRESH_MS = 10000;

export class AutoRefreshField extends Component {
    static template = "erplibre_devops.AutoRefreshField";
    static props = {...standardFieldProps};

    setup() {
        useRecordRefresh(() => this.props.record, REFRESH_MS);
    }

    get text() {
        const value = this.props.record.data[this.props.name];
        return value ? formatDateTime(value) : "";
    }
}

registry.category("fields").add("devops_auto_refresh", {
    component: AutoRefreshField,
    supportedTypes: ["datetime"],
});
