"""KEK providers behind one interface: the key file and a PKCS#11 HSM (SoftHSM2)."""

from __future__ import annotations

import secrets
import struct

import pytest

from server.config import ConfigError, load_settings
from server.keys.kek import MAGIC, KEKError, blob_version


def _kek(application):
    return application.extensions["shouwang.keyring"].kek


def test_wrap_binds_the_key_to_its_purpose(kek_app):
    kek = _kek(kek_app)
    key = secrets.token_bytes(32)
    blob = kek.wrap(key, b"fields")
    # The same format from both providers: SWK1 | version | nonce | ciphertext || tag.
    assert blob[:4] == MAGIC and blob_version(blob) == kek.current_version()
    assert len(blob) == 8 + 12 + len(key) + 16 and key not in blob
    assert kek.unwrap(blob, b"fields") == key
    assert kek.wrap(key, b"fields") != blob  # a fresh nonce each time
    with pytest.raises(KEKError):
        kek.unwrap(blob, b"blind-index")
    with pytest.raises(KEKError):
        kek.unwrap(blob[:-1] + bytes([blob[-1] ^ 1]), b"fields")
    with pytest.raises(KEKError):
        kek.unwrap(blob[:4] + struct.pack(">I", 999_999) + blob[8:], b"fields")
    with pytest.raises(KEKError):
        kek.unwrap(b"not a wrapped key", b"fields")


def test_rotation_adds_a_version_and_old_blobs_still_unwrap(kek_app):
    kek = _kek(kek_app)
    old_version = kek.current_version()
    old = kek.wrap(b"k" * 16, b"a")
    assert kek.rotate() == old_version + 1 == kek.current_version()
    new = kek.wrap(b"k" * 16, b"a")
    assert blob_version(new) == old_version + 1
    assert kek.unwrap(old, b"a") == kek.unwrap(new, b"a") == b"k" * 16
    assert {old_version, old_version + 1} <= set(kek.versions())


def test_a_destroyed_kek_version_unwraps_nothing(kek_app):
    kek = _kek(kek_app)
    old = kek.wrap(b"s" * 32, b"a")
    kek.rotate()
    with pytest.raises(KEKError):
        kek.destroy_version(kek.current_version())  # never the current one
    kek.destroy_version(blob_version(old))
    assert blob_version(old) not in kek.versions()
    with pytest.raises(KEKError):
        kek.unwrap(old, b"a")


def test_hsm_keys_are_non_extractable(pkcs11_app):
    from pkcs11 import Attribute
    from pkcs11.exceptions import AttributeSensitive

    kek = _kek(pkcs11_app)
    version = kek.current_version()
    obj = kek._keys[version]
    assert obj.label == f"shouwang-kek-v{version}"
    assert obj[Attribute.ID] == struct.pack(">I", version)
    assert obj[Attribute.EXTRACTABLE] is False and obj[Attribute.SENSITIVE] is True
    assert obj[Attribute.TOKEN] is True and obj[Attribute.VALUE_LEN] == 32
    with pytest.raises(AttributeSensitive):
        obj[Attribute.VALUE]


def test_a_second_provider_shares_the_token_login(pkcs11_app, hsm_env):
    from server.keys.kek_pkcs11 import Pkcs11KEK

    other = Pkcs11KEK(hsm_env["SHOUWANG_PKCS11_MODULE"], hsm_env["SHOUWANG_PKCS11_TOKEN"],
                      hsm_env["SHOUWANG_PKCS11_PIN"])
    assert other.versions() == _kek(pkcs11_app).versions()
    assert _kek(pkcs11_app).unwrap(other.wrap(b"x" * 32, b"a"), b"a") == b"x" * 32
    # A rotation through one object is used at once by the other (another process alike).
    new = other.rotate()
    assert blob_version(_kek(pkcs11_app).wrap(b"x" * 32, b"a")) == new


def test_pkcs11_provider_needs_its_settings(monkeypatch):
    for name in ("SHOUWANG_PKCS11_MODULE", "SHOUWANG_PKCS11_TOKEN", "SHOUWANG_PKCS11_PIN"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="SHOUWANG_PKCS11_PIN"):
        load_settings({"SHOUWANG_KEK_PROVIDER": "pkcs11", "SHOUWANG_PKCS11_MODULE": "/x.so"})
    settings = load_settings({"SHOUWANG_KEK_PROVIDER": "pkcs11", "SHOUWANG_PKCS11_MODULE": "/x.so",
                              "SHOUWANG_PKCS11_TOKEN": "t", "SHOUWANG_PKCS11_PIN": "s3cret-pin"})
    assert settings.pkcs11_pin == "s3cret-pin" and "s3cret-pin" not in repr(settings)


def test_unknown_crypto_profile_refuses_to_start():
    with pytest.raises(ConfigError, match="SHOUWANG_CRYPTO_PROFILE"):
        load_settings({"SHOUWANG_CRYPTO_PROFILE": "des"})
