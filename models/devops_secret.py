"""Secrets (SSH keys, passwords, later deploy keys and tokens), encrypted at rest.

Nobody reads ``devops.secret`` through the UI or RPC: its only access row grants nothing,
and its methods are private.  Models that own secrets inherit ``devops.secret.mixin`` and
expose them as write-only fields (a compute that always reads back empty, an inverse that
stores).  Values are Fernet tokens; the key lives outside the database (``engine/crypto.py``
says where), so a dump of the database alone reveals nothing.
"""

import os

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import config

from ..engine import crypto


class DevopsSecret(models.Model):
    _name = "devops.secret"
    _description = "DevOps Secret"
    _log_access = False

    res_model = fields.Char(required=True, index=True)
    res_id = fields.Many2oneReference(model_field="res_model", required=True, index=True)
    name = fields.Char(required=True)
    value = fields.Text(required=True, help="A Fernet token: 'fernet:…'.")

    _sql_constraints = [
        (
            "record_name_unique",
            "unique(res_model, res_id, name)",
            "A record has one secret of a name.",
        ),
    ]

    @api.model
    def _keyring(self, create=True):
        try:
            return crypto.load(
                config.get(crypto.CONFIG_KEY),
                data_dir=config.get("data_dir"),
                dbname=self.env.cr.dbname,
                create=create,
            )
        except (crypto.SecretKeyError, OSError) as error:
            raise UserError(
                self.env._("Secrets cannot be opened: %(error)s", error=error)
            ) from error

    @api.model
    def _of(self, records):
        return self.sudo().search(
            [("res_model", "=", records._name), ("res_id", "in", records.ids)]
        )

    @api.model
    def _names(self, records):
        """{record id: set of the names of its stored secrets} (nothing is decrypted)."""
        found = {}
        for secret in self._of(records):
            found.setdefault(secret.res_id, set()).add(secret.name)
        return found

    @api.model
    def _values(self, record):
        """{name: clear value} of ``record``'s secrets: for server code only."""
        stored = self._of(record)
        if not stored:
            return {}
        keyring = self._keyring()
        try:
            return {secret.name: keyring.decrypt(secret.value) for secret in stored}
        except crypto.SecretKeyError as error:
            raise UserError(str(error)) from error

    @api.model
    def _store(self, record, name, value):
        """Store (or with an empty ``value`` forget) ``record``'s secret ``name``."""
        record.ensure_one()
        secret = self._of(record).filtered(lambda s: s.name == name)
        if not value:
            secret.unlink()
            return
        token = self._keyring().encrypt(value)
        if secret:
            secret.value = token
        else:
            self.sudo().create(
                {"res_model": record._name, "res_id": record.id, "name": name, "value": token}
            )

    @api.model
    def _rekey(self, keyring):
        """Encrypt every secret with the first key of ``keyring`` (which must also open them:
        list the old key after the new one); returns how many were re-encrypted."""
        # Every secret, by design (a few per machine and workspace).
        secrets = self.sudo().search([])  # pylint: disable=no-search-all
        try:
            values = {secret.id: keyring.rotate(secret.value) for secret in secrets}
        except crypto.SecretKeyError as error:
            raise UserError(str(error)) from error
        for secret in secrets:
            secret.value = values[secret.id]
        return len(secrets)

    @api.model
    def _rekey_command(self, commit=True):
        """Re-encrypt every secret of this database under a new key; returns (count, what
        to do next).  With a key file: a new key is made and replaces it once the database
        holds the new tokens (see engine/crypto.py).  With a key from the configuration or
        the environment: re-encrypt under its first key (put the new key first, comma, the
        old key; run this; then drop the old key)."""
        current = self._keyring()
        if not current.path:
            count = self._rekey(current)
            return count, self.env._(
                "Every secret is now encrypted with the first key of %(origin)s; you may "
                "remove the other keys from it.",
                origin=current.origin,
            )
        fresh = crypto.new_key()
        pending = current.path + ".new"
        crypto.write_key_file(pending, fresh)
        count = self._rekey(crypto.KeyRing([fresh, *current.keys], pending))
        if commit:  # the new tokens first, then the key that opens them
            self.env.cr.commit()  # pylint: disable=invalid-commit
        os.replace(pending, current.path)
        return count, self.env._("The new key is in %(path)s.", path=current.path)

    @api.model
    def _adopt_plaintext(self):
        """Encrypt the secrets of version 18.0.1.0.0, which were stored in clear in the
        table devops_machine_secret, then blank them there (migration)."""
        cr = self.env.cr
        cr.execute("SELECT to_regclass('devops_machine_secret')")
        if not cr.fetchone()[0]:
            return 0
        cr.execute("SELECT machine_id, kind, value FROM devops_machine_secret")
        rows = cr.fetchall()
        Machine = self.env["devops.machine"]
        for machine_id, kind, value in rows:
            machine = Machine.browse(machine_id).exists()
            if machine and value:
                self._store(machine, kind, value)
        cr.execute("DELETE FROM devops_machine_secret")
        return len(rows)


class DevopsSecretMixin(models.AbstractModel):
    """Write-only secrets of a record, stored encrypted in devops.secret."""

    _name = "devops.secret.mixin"
    _description = "DevOps write-only secrets"

    def _secret_values(self):
        self.ensure_one()
        return self.env["devops.secret"]._values(self)

    def _secret_store(self, name, value):
        self.env["devops.secret"]._store(self, name, value)

    def _secret_names(self):
        return self.env["devops.secret"]._names(self)

    def unlink(self):
        self.env["devops.secret"]._of(self).unlink()
        return super().unlink()
