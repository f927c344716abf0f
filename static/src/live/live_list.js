/** @odoo-module **/
/**
 * A list that follows its records without a reload of the page: `js_class="devops_live_list"`.
 * It polls for changes every few seconds and reloads when something changed, unless the
 * user is editing a row or has selected some.
 */
import {registry} from "@web/core/registry";
import {listView} from "@web/views/list/list_view";
import {ListController} from "@web/views/list/list_controller";
import {useLiveReload} from "./changes";

export class LiveListController extends ListController {
    setup() {
        super.setup();
        useLiveReload(this);
    }
}

registry.category("views").add("devops_live_list", {
    ...listView,
    Controller: LiveListController,
});
