/** @odoo-module **/
/**
 * Poll a model for changes: every `intervalMs`, ask when the records (of `getIds()`, or all
 * the user may read) last changed — one cheap query, `devops_last_change` — and call
 * `onChange()` only when that moved. Never while the tab is hidden or a call is under way.
 */
import {onMounted, onWillUnmount} from "@odoo/owl";
import {useService} from "@web/core/utils/hooks";

export function useChangePolling(resModel, getIds, intervalMs, onChange, wanted = () => true) {
    const orm = useService("orm");
    let last = undefined;
    let busy = false;
    let timer = null;
    async function poll() {
        if (busy || document.hidden || !wanted()) {
            return;
        }
        busy = true;
        try {
            const ids = getIds();
            const changed = await orm.silent.call(resModel, "devops_last_change", [], {
                ids: ids === null ? null : ids,
            });
            if (last !== undefined && changed !== last) {
                await onChange();
            }
            last = changed;
        } catch {
            // A failed poll (offline, session ended) is tried again at the next tick.
        } finally {
            busy = false;
        }
    }
    onMounted(() => {
        poll();
        timer = setInterval(poll, intervalMs);
    });
    onWillUnmount(() => clearInterval(timer));
}

/**
 * What a live view's controller does (`devops_live_list`, `devops_live_kanban`): reload its
 * records every few seconds when they changed, unless the user edits a row or has selected
 * some.
 */
export function useLiveReload(controller, intervalMs = 4000) {
    useChangePolling(
        controller.props.resModel,
        () => null,
        intervalMs,
        () => controller.model.load(),
        () => {
            const root = controller.model.root;
            return !root.editedRecord && !(root.selection && root.selection.length);
        }
    );
}
