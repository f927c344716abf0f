/** @odoo-module **/
/**
 * A kanban that follows its records without a reload of the page:
 * `js_class="devops_live_kanban"` (the Test board), as `devops_live_list` does.
 */
import {registry} from "@web/core/registry";
import {kanbanView} from "@web/views/kanban/kanban_view";
import {KanbanController} from "@web/views/kanban/kanban_controller";
import {useLiveReload} from "./changes";

export class LiveKanbanController extends KanbanController {
    setup() {
        super.setup();
        useLiveReload(this);
    }
}

registry.category("views").add("devops_live_kanban", {
    ...kanbanView,
    Controller: LiveKanbanController,
});
