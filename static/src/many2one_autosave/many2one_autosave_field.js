/** @odoo-module **/
/**
 * A many2one that saves its record as soon as a value is chosen.
 *
 * For a dialog whose onchange loads what the choice brings: the code wizard's workspace
 * fills the list of changed files at once, and the save makes those lines real records, so
 * that their row buttons (Diff) work right away instead of asking to save first.  The
 * screen is blocked meanwhile (visibly after half a second), so that no click lands on a
 * line that is not saved yet.
 */
import {registry} from "@web/core/registry";
import {useService} from "@web/core/utils/hooks";
import {Many2OneField, many2OneField} from "@web/views/fields/many2one/many2one_field";

export class Many2OneAutosaveField extends Many2OneField {
    setup() {
        super.setup();
        this.ui = useService("ui");
    }

    async updateRecord(value) {
        if (!value || !value[0]) {
            return super.updateRecord(value);
        }
        this.ui.block({delay: 500});
        try {
            const result = await super.updateRecord(value);
            await this.props.record.save();
            return result;
        } finally {
            this.ui.unblock();
        }
    }
}

registry.category("fields").add("devops_many2one_autosave", {
    ...many2OneField,
    component: Many2OneAutosaveField,
});
