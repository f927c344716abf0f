/** @odoo-module **/
/**
 * Reload a form's record every `intervalMs` while `wanted()` says so, never while the user
 * edits it, while a reload is under way, or while the browser tab is hidden.
 */
import {onMounted, onWillUnmount} from "@odoo/owl";

export function useRecordRefresh(getRecord, intervalMs, wanted = () => true) {
    let loading = false;
    let timer = null;
    async function refresh() {
        const record = getRecord();
        if (!wanted() || loading || record.dirty || !record.resId || document.hidden) {
            return;
        }
        loading = true;
        try {
            await record.load();
        } finally {
            loading = false;
        }
    }
    onMounted(() => {
        timer = setInterval(refresh, intervalMs);
    });
    onWillUnmount(() => clearInterval(timer));
}
