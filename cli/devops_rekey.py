"""``odoo-bin devops_rekey``: re-encrypt the secrets of a database under a new key.

Odoo finds the commands of an addon before it reads its configuration, so name the addons
path first::

    odoo-bin --addons-path=<paths> devops_rekey -c odoo.conf -d DATABASE

(``scripts/dev.sh rekey`` does this for the development database.)
"""

import argparse
import sys

import odoo
from odoo.cli import Command
from odoo.tools import config


class DevopsRekey(Command):
    """Re-encrypt the erplibre_devops secrets of a database under a new key"""

    name = "devops_rekey"

    def run(self, cmdargs):
        parser = argparse.ArgumentParser(
            prog="odoo-bin devops_rekey", description=self.__doc__, add_help=True
        )
        parser.add_argument("-d", "--database", required=True)
        known, odoo_args = parser.parse_known_args(cmdargs)
        config.parse_config([*odoo_args, "-d", known.database])
        odoo.netsvc.init_logger()
        registry = odoo.modules.registry.Registry(known.database)
        with registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            if "devops.secret" not in env:
                sys.exit(f"erplibre_devops is not installed in {known.database}.")
            count, then = env["devops.secret"]._rekey_command()
        # A command-line tool: its result goes to the terminal.
        print(f"{count} secret(s) re-encrypted. {then}")  # pylint: disable=print-used
