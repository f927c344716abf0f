"""18.0.1.1.0: secrets encrypted at rest; the runner is private."""

from odoo import SUPERUSER_ID, api


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    env["devops.secret"]._adopt_plaintext()
    cron = env.ref("erplibre_devops.ir_cron_exec_runner", raise_if_not_found=False)
    if cron:
        cron.code = "model._run_pending()"
