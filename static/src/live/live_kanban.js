/** @odoo-module **/
/**
 * A kanban that follows its records without a reload of the page:
 * `js_class="devops_live_kanban"` (the Test board). Like `devops_live_list`, it asks every few
 * seconds when the records last changed and reloads only when that moved.
 */
import {registry} from "@web/core/registry";
import {kanbanView} from "@web/views/kanban/kanban_view";
import {KanbanController} from "@web/views/kanban/kanban_controller";
import {useChangePolling} from "./changes";

const INTERVAL_MS = 4000;

export class LiveKanbanController extends KanbanController {
    setup() {
        super.setup();
        useChangePolling(
            this.props.resModel,
            () => null,
            INTERVAL_MS,
            () => this.model.load(),
            () => !(this.model.root.selection && this.model.root.selection.length)
        );
    }
}

registry.category("views").add("devops_live_kanban", {
    ...kanbanView,
    Controller: LiveKanbanController,
});
