import os
import stat

import pytest

from engine import crypto


def test_encrypt_decrypt_and_no_clear_text():
    ring = crypto.KeyRing([crypto.new_key()], "test")
    token = ring.encrypt("s3cret")
    assert token.startswith(crypto.PREFIX)
    assert "s3cret" not in token
    assert ring.decrypt(token) == "s3cret"
    assert ring.encrypt("s3cret") != token  # a fresh IV each time


def test_rotation_with_two_keys():
    old, new = crypto.new_key(), crypto.new_key()
    token = crypto.KeyRing([old], "old").encrypt("value")
    both = crypto.KeyRing([new, old], "both")
    rotated = both.rotate(token)
    assert crypto.KeyRing([new], "new").decrypt(rotated) == "value"
    with pytest.raises(crypto.SecretKeyError, match="the key changed"):
        crypto.KeyRing([old], "old").decrypt(rotated)


def test_clear_text_and_bad_keys_are_refused_with_a_message():
    ring = crypto.KeyRing([crypto.new_key()], "test")
    with pytest.raises(crypto.SecretKeyError, match="not encrypted"):
        ring.decrypt("plain")
    for bad in ("", " , ", "not-a-key"):
        with pytest.raises(crypto.SecretKeyError):
            crypto.KeyRing([bad], "config")


def test_key_sources_in_order(tmp_path):
    key = crypto.new_key()
    assert crypto.load(key, environ={}).origin.startswith("the Odoo configuration")
    ring = crypto.load(None, environ={crypto.ENV_VAR: key})
    assert crypto.ENV_VAR in ring.origin
    with pytest.raises(crypto.SecretKeyError):
        crypto.load(None, environ={})
    ring = crypto.load(None, environ={}, data_dir=str(tmp_path), dbname="db1")
    path = crypto.key_file(str(tmp_path), "db1")
    assert ring.path == path
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    # Read back, not made anew; one key file per database.
    again = crypto.load(None, environ={}, data_dir=str(tmp_path), dbname="db1")
    assert again.keys == ring.keys
    other = crypto.load(None, environ={}, data_dir=str(tmp_path), dbname="db2")
    assert other.keys != ring.keys
    with pytest.raises(crypto.SecretKeyError):
        crypto.load(None, environ={}, data_dir=str(tmp_path), dbname="db3", create=False)


def test_an_unfinished_rekey_loses_nothing(tmp_path):
    """A crash between writing <db>.key.new and renaming it: both keys open secrets."""
    ring = crypto.load(None, environ={}, data_dir=str(tmp_path), dbname="db")
    fresh = crypto.new_key()
    crypto.write_key_file(ring.path + ".new", fresh)
    token = crypto.KeyRing([fresh], "fresh").encrypt("rotated")
    old_token = ring.encrypt("not yet")
    reloaded = crypto.load(None, environ={}, data_dir=str(tmp_path), dbname="db")
    assert reloaded.decrypt(token) == "rotated"
    assert reloaded.decrypt(old_token) == "not yet"


def test_key_file_names_are_safe(tmp_path):
    path = crypto.key_file(str(tmp_path), "../../etc/passwd")
    assert os.path.dirname(path) == os.path.join(str(tmp_path), crypto.KEY_DIR)
