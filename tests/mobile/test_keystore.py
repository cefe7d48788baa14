"""Device key store: sealed at rest, tamper-evident, wipeable."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mobile.core.keystore import (
    ACCESS_TOKEN,
    ED25519,
    MASTER_KEY,
    REFRESH_TOKEN,
    FileKeyProtector,
    KeyStore,
    KeyStoreError,
    PassphraseProtector,
)

SECRET = b"\x00\x01refresh-token-value\xff"


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "keys.json"


def _doc(path: Path) -> dict:
    return json.loads(path.read_text())


def test_round_trip_and_reopen_with_passphrase(store_path: Path) -> None:
    master = os.urandom(32)
    ks = KeyStore.create(store_path, PassphraseProtector("correct horse battery staple"))
    ks.put(REFRESH_TOKEN, SECRET)
    ks.put(MASTER_KEY, master)
    assert ks.get(REFRESH_TOKEN) == SECRET
    assert ks.get(ACCESS_TOKEN) is None

    again = KeyStore.open(store_path, PassphraseProtector("correct horse battery staple"))
    assert again.get(REFRESH_TOKEN) == SECRET
    assert again.get(MASTER_KEY) == master
    # Secrets are not readable in the file itself.
    raw = store_path.read_bytes()
    assert SECRET not in raw and b"refresh-token-value" not in raw
    assert base64.b64encode(master) not in raw and master not in raw


def test_delete_persists(store_path: Path, tmp_path: Path) -> None:
    protector = FileKeyProtector(tmp_path / "kek")
    ks = KeyStore.create(store_path, protector)
    ks.put(ACCESS_TOKEN, b"a")
    ks.put(REFRESH_TOKEN, b"r")
    ks.delete(ACCESS_TOKEN)
    again = KeyStore.open(store_path, protector)
    assert again.get(ACCESS_TOKEN) is None
    assert again.get(REFRESH_TOKEN) == b"r"


def test_create_refuses_to_overwrite(store_path: Path, tmp_path: Path) -> None:
    KeyStore.create(store_path, FileKeyProtector(tmp_path / "kek")).put(REFRESH_TOKEN, SECRET)
    with pytest.raises(KeyStoreError):
        KeyStore.create(store_path, FileKeyProtector(tmp_path / "kek"))
    assert KeyStore.open(store_path, FileKeyProtector(tmp_path / "kek")).get(REFRESH_TOKEN)


def test_wrong_passphrase_raises(store_path: Path) -> None:
    KeyStore.create(store_path, PassphraseProtector("right")).put(REFRESH_TOKEN, SECRET)
    with pytest.raises(KeyStoreError):
        KeyStore.open(store_path, PassphraseProtector("wrong"))


def test_wrong_key_file_raises(store_path: Path, tmp_path: Path) -> None:
    KeyStore.create(store_path, FileKeyProtector(tmp_path / "kek")).put(REFRESH_TOKEN, SECRET)
    (tmp_path / "other").write_bytes(os.urandom(32))
    with pytest.raises(KeyStoreError):
        KeyStore.open(store_path, FileKeyProtector(tmp_path / "other"))
    with pytest.raises(KeyStoreError):  # sealed with a key file, opened with a passphrase
        KeyStore.open(store_path, PassphraseProtector("x"))


def _flip_bit(sealed: str) -> str:
    blob = bytearray(base64.b64decode(sealed))
    blob[-1] ^= 0x01
    return base64.b64encode(bytes(blob)).decode()


def test_tampered_value_raises(store_path: Path, tmp_path: Path) -> None:
    protector = FileKeyProtector(tmp_path / "kek")
    KeyStore.create(store_path, protector).put(REFRESH_TOKEN, SECRET)
    doc = _doc(store_path)
    doc["entries"][REFRESH_TOKEN] = _flip_bit(doc["entries"][REFRESH_TOKEN])
    store_path.write_text(json.dumps(doc))
    ks = KeyStore.open(store_path, protector)
    with pytest.raises(KeyStoreError):
        ks.get(REFRESH_TOKEN)


@pytest.mark.parametrize("damage", ["wrapped_key", "manifest", "not_json", "salt"])
def test_tampered_file_raises_on_open(store_path: Path, damage: str) -> None:
    KeyStore.create(store_path, PassphraseProtector("pw")).put(REFRESH_TOKEN, SECRET)
    doc = _doc(store_path)
    if damage == "wrapped_key":
        doc["protector"]["wrapped"] = _flip_bit(doc["protector"]["wrapped"])
    elif damage == "manifest":
        doc["manifest"] = _flip_bit(doc["manifest"])
    elif damage == "salt":
        doc["protector"]["salt"] = base64.b64encode(os.urandom(16)).decode()
    store_path.write_text("{not json" if damage == "not_json" else json.dumps(doc))
    with pytest.raises(KeyStoreError):
        KeyStore.open(store_path, PassphraseProtector("pw"))


def test_swapped_values_detected(store_path: Path, tmp_path: Path) -> None:
    protector = FileKeyProtector(tmp_path / "kek")
    ks = KeyStore.create(store_path, protector)
    ks.put(ACCESS_TOKEN, b"access")
    ks.put(REFRESH_TOKEN, b"refresh")
    doc = _doc(store_path)
    entries = doc["entries"]
    entries[ACCESS_TOKEN], entries[REFRESH_TOKEN] = entries[REFRESH_TOKEN], entries[ACCESS_TOKEN]
    store_path.write_text(json.dumps(doc))
    swapped = KeyStore.open(store_path, protector)
    for name in (ACCESS_TOKEN, REFRESH_TOKEN):
        with pytest.raises(KeyStoreError):
            swapped.get(name)


def test_removed_or_added_entry_detected(store_path: Path, tmp_path: Path) -> None:
    protector = FileKeyProtector(tmp_path / "kek")
    ks = KeyStore.create(store_path, protector)
    ks.put(ACCESS_TOKEN, b"access")
    ks.put(REFRESH_TOKEN, b"refresh")
    original = _doc(store_path)

    removed = json.loads(json.dumps(original))
    del removed["entries"][REFRESH_TOKEN]
    store_path.write_text(json.dumps(removed))
    with pytest.raises(KeyStoreError):
        KeyStore.open(store_path, protector)

    added = json.loads(json.dumps(original))
    added["entries"]["extra"] = original["entries"][ACCESS_TOKEN]
    store_path.write_text(json.dumps(added))
    with pytest.raises(KeyStoreError):
        KeyStore.open(store_path, protector)


def test_files_are_0600(store_path: Path, tmp_path: Path) -> None:
    old_umask = os.umask(0o022)  # a permissive umask must not leak into the files' modes
    try:
        ks = KeyStore.create(store_path, FileKeyProtector(tmp_path / "kek"))
        ks.put(REFRESH_TOKEN, SECRET)  # a rewrite, not just the first write
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(store_path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "kek").stat().st_mode) == 0o600
    # Atomic writes leave no temporary files behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kek", "keys.json"]


def test_wipe_erases_secrets_and_key(store_path: Path, tmp_path: Path) -> None:
    protector = FileKeyProtector(tmp_path / "kek")
    ks = KeyStore.create(store_path, protector)
    ks.put(REFRESH_TOKEN, SECRET)
    sealed = _doc(store_path)["entries"][REFRESH_TOKEN]
    ks.wipe()
    assert sealed not in store_path.read_text()
    assert "entries" not in _doc(store_path)
    assert not (tmp_path / "kek").exists()  # crypto-erasure: the KEK is gone too
    with pytest.raises(KeyStoreError):
        ks.get(REFRESH_TOKEN)
    with pytest.raises(KeyStoreError):
        ks.put(REFRESH_TOKEN, SECRET)
    with pytest.raises(KeyStoreError):
        KeyStore.open(store_path, protector)


def test_wipe_with_passphrase(store_path: Path) -> None:
    ks = KeyStore.create(store_path, PassphraseProtector("pw"))
    ks.put(REFRESH_TOKEN, SECRET)
    ks.wipe()
    with pytest.raises(KeyStoreError):
        KeyStore.open(store_path, PassphraseProtector("pw"))


def test_ed25519_key_created_once_and_persisted(store_path: Path, tmp_path: Path) -> None:
    protector = FileKeyProtector(tmp_path / "kek")
    ks = KeyStore.create(store_path, protector)
    assert ks.get(ED25519) is None
    key = ks.ed25519_key()
    assert isinstance(key, Ed25519PrivateKey)
    assert ks.ed25519_key().private_bytes_raw() == key.private_bytes_raw()
    reopened = KeyStore.open(store_path, protector).ed25519_key()
    signature = reopened.sign(b"proof")
    key.public_key().verify(signature, b"proof")  # raises if the keys differ


def test_bad_names_and_values_rejected(store_path: Path, tmp_path: Path) -> None:
    ks = KeyStore.create(store_path, FileKeyProtector(tmp_path / "kek"))
    with pytest.raises(ValueError):
        ks.put("../etc", b"x")
    with pytest.raises(ValueError):
        ks.get("Upper")
    with pytest.raises(TypeError):
        ks.put(REFRESH_TOKEN, "not bytes")  # type: ignore[arg-type]
