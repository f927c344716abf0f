"""Secrets at rest: Fernet encryption with a key kept outside the database.

Where the key comes from, first found wins:

1. ``devops_secret_key`` in the Odoo configuration file (or ``--devops-secret-key``);
2. the environment variable ``ERPLIBRE_DEVOPS_SECRET_KEY``;
3. a key file per database, ``<Odoo data_dir>/erplibre_devops/keys/<database>.key``
   (outside the database's filestore, which Odoo's backups include), created with mode 600
   the first time a secret is stored.

A value may hold several keys separated by commas: the first encrypts, every one decrypts
(Fernet's MultiFernet), which is how keys are rotated: put the new key first, run the
re-encryption command, then drop the old key.  With a key file, the command does it all: it
writes the new key to ``<database>.key.new`` (which ``load`` also reads, so a crash half-way
loses nothing), re-encrypts and commits, then renames it over the old key file.

A database dump alone reveals no secret; keep the key (and a copy of it) apart from the
database backups.
"""

import contextlib
import os

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

ENV_VAR = "ERPLIBRE_DEVOPS_SECRET_KEY"
CONFIG_KEY = "devops_secret_key"
KEY_DIR = os.path.join("erplibre_devops", "keys")
PREFIX = "fernet:"


class SecretKeyError(Exception):
    """No usable key, or a secret that no key opens; ``str()`` says what to do."""


def new_key():
    return Fernet.generate_key().decode("ascii")


def parse_keys(text, origin):
    """The Fernet keys of ``text`` (comma-separated), first one first."""
    keys = [part.strip() for part in (text or "").split(",") if part.strip()]
    if not keys:
        raise SecretKeyError(f"The secret key in {origin} is empty.")
    fernets = []
    for key in keys:
        try:
            fernets.append(Fernet(key.encode("ascii")))
        except (ValueError, UnicodeEncodeError) as error:
            raise SecretKeyError(
                f"The secret key in {origin} is not a Fernet key (44 characters of url-safe "
                "base64); make one with: python3 -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'"
            ) from error
    return keys, fernets


class KeyRing:
    """The keys that open secrets, and where they come from."""

    def __init__(self, keys, origin, path=None):
        self.keys, fernets = parse_keys(",".join(keys), origin)
        self.origin = origin
        self.path = path  # the key file, when the keys come from one
        self._fernet = MultiFernet(fernets)

    def encrypt(self, value):
        token = self._fernet.encrypt(value.encode("utf-8")).decode("ascii")
        return PREFIX + token

    def decrypt(self, stored):
        if not stored.startswith(PREFIX):
            raise SecretKeyError("This secret is not encrypted: run the re-encryption command.")
        try:
            return self._fernet.decrypt(stored[len(PREFIX) :].encode("ascii")).decode("utf-8")
        except InvalidToken as error:
            raise SecretKeyError(
                f"A stored secret cannot be opened with the key from {self.origin}: the key "
                "changed. Put the old key back (after the new one, comma-separated) or enter "
                "the secrets again."
            ) from error

    def rotate(self, stored):
        """The same secret, encrypted with the first key."""
        return self.encrypt(self.decrypt(stored))


def key_file(data_dir, dbname):
    """Where the key file of database ``dbname`` lives under Odoo's ``data_dir``."""
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in dbname)
    return os.path.join(data_dir, KEY_DIR, f"{safe}.key")


def load(config_value=None, environ=None, data_dir=None, dbname=None, create=True):
    """The key ring from the first source that has one (see the module docstring)."""
    environ = os.environ if environ is None else environ
    if config_value:
        return KeyRing([config_value], f"the Odoo configuration ({CONFIG_KEY})")
    if environ.get(ENV_VAR):
        return KeyRing([environ[ENV_VAR]], f"the environment variable {ENV_VAR}")
    if not (data_dir and dbname):
        raise SecretKeyError(
            f"No secret key: set {CONFIG_KEY} in the Odoo configuration or {ENV_VAR}."
        )
    path = key_file(data_dir, dbname)
    if not os.path.exists(path):
        if not create:
            raise SecretKeyError(f"No secret key: {path} does not exist.")
        write_key_file(path, new_key(), replace=False)
    keys = [_read(path)]
    if os.path.exists(path + ".new"):  # a re-encryption that did not finish
        keys.insert(0, _read(path + ".new"))
    return KeyRing(keys, path, path)


def _read(path):
    with open(path, encoding="ascii") as handle:
        return handle.read().strip()


def write_key_file(path, key, replace=True):
    """Write ``key`` to ``path`` with mode 600, atomically (a new file, then a rename).

    ``replace=False``: keep a key file that appeared meanwhile (two processes that create
    the first key at once agree on one)."""
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    temporary = f"{path}.{os.getpid()}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(key + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(temporary, path)
        else:
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
