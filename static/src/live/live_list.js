/** @odoo-module **/
/**
 * A list that follows its records without a reload of the page: `js_class="devops_live_list"`.
 * It polls for changes every few seconds and reloads when something changed, unless the
 * user is editing a row or has selected some.
 */
import {registry} from "@web/core/registry";
import {listView} from "@web/views/list/list_view";
import {ListController} from "@web/views/list/list_controller";
import {useChangePolling} from "./changes";

const INTERVAL_MS = 4000;

export class LiveListController extends ListController {
    setup() {
        super.setup();
        useChangePolling(
            this.props.resModel,
            () => null,
            INTERVAL_MS,
            () => this.model.load(),
            () => {
                const root = this.model.root;
                return !root.editedRecord && !(root.selection && root.selection.length);
            }
        );
    }
}

registry.category("views").add("devops_live_list", {
    ...listView,
    Controller: LiveListController,
});
