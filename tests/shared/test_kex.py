"""Key charging: both sides agree, stored vectors reproduce, bad input is KexError."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from shared.kex import (
    ChargeResponse,
    DeviceKeyPair,
    KexError,
    _master_key,
    derive_key,
    device_complete,
    server_charge,
)
from shared.profiles import PROFILES, get_profile

VECTORS = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "vectors" / "kex_vectors.json").read_text()
)
ALL = sorted(PROFILES)


@pytest.fixture(scope="module")
def keypair() -> DeviceKeyPair:
    return DeviceKeyPair.generate()


@pytest.mark.parametrize("profile", ALL)
def test_both_sides_agree(keypair: DeviceKeyPair, profile: str) -> None:
    resp, server_key = server_charge("dev-1", keypair.x_pub, keypair.mlkem_pub, profile)
    assert len(server_key) == 32
    assert device_complete(keypair, "dev-1", resp, profile) == server_key
    # Fresh ephemeral + encapsulation each time: a second charge gives a new key.
    resp2, key2 = server_charge("dev-1", keypair.x_pub, keypair.mlkem_pub, profile)
    assert key2 != server_key and resp2.ct != resp.ct


def test_key_is_bound_to_profile_and_device_id(keypair: DeviceKeyPair) -> None:
    resp, key = server_charge("dev-1", keypair.x_pub, keypair.mlkem_pub, "intl")
    assert device_complete(keypair, "dev-2", resp, "intl") != key
    assert device_complete(keypair, "dev-1", resp, "gm") != key


def test_keypair_serialization_roundtrip(keypair: DeviceKeyPair) -> None:
    raw = keypair.private_bytes()
    assert len(raw) == 97
    again = DeviceKeyPair.from_private_bytes(raw)
    assert (again.x_pub, again.mlkem_pub) == (keypair.x_pub, keypair.mlkem_pub)
    resp, key = server_charge("d", keypair.x_pub, keypair.mlkem_pub, "gm")
    assert device_complete(again, "d", resp, "gm") == key


@pytest.mark.parametrize("raw", [b"", b"\x01" * 96, b"\x02" + bytes(96), "x" * 97])
def test_bad_keypair_encoding(raw: Any) -> None:
    with pytest.raises(KexError):
        DeviceKeyPair.from_private_bytes(raw)


@pytest.mark.parametrize("vec", VECTORS, ids=[v["profile"] for v in VECTORS])
def test_stored_vectors(vec: dict[str, Any]) -> None:
    h = bytes.fromhex
    prof = get_profile(vec["profile"])
    kp = DeviceKeyPair.from_private_bytes(
        b"\x01" + h(vec["device_x_priv"]) + h(vec["device_mlkem_seed"])
    )
    assert kp.x_pub == h(vec["device_x_pub"])
    assert hashlib.sha256(kp.mlkem_pub).hexdigest() == vec["device_mlkem_pub_sha256"]
    resp = ChargeResponse(eph_x_pub=h(vec["eph_x_pub"]), ct=h(vec["ct"]))
    # Device side end to end: decapsulation + X25519 + combiner.
    master = device_complete(kp, vec["device_id"], resp, prof)
    assert master == h(vec["master_key"])
    # Server side combiner from the recorded shared secrets.
    args = (vec["device_id"].encode(), kp.x_pub, kp.mlkem_pub, resp.eph_x_pub, resp.ct)
    assert _master_key(prof, *args, h(vec["ss_kem"]), h(vec["ss_x"])) == master
    d = vec["derive"]
    assert derive_key(master, d["purpose"], h(d["context"]), d["length"], prof) == h(d["key"])


@pytest.mark.parametrize("profile", ALL)
def test_derive_key_separates_purpose_and_context(profile: str) -> None:
    mk = bytes(32)
    a = derive_key(mk, "evidence", b"ab", 32, profile)
    assert len(a) == 32 and len(derive_key(mk, "evidence", b"ab", 16, profile)) == 16
    assert a != derive_key(mk, "evidence", b"ac", 32, profile)
    assert a != derive_key(mk, "evidencea", b"b", 32, profile)  # length prefixes matter
    assert a != derive_key(b"\x01" * 32, "evidence", b"ab", 32, profile)


@pytest.mark.parametrize(
    "kwargs",
    [{"master_key": bytes(31)}, {"purpose": ""}, {"context": "s"}, {"length": 8}, {"length": 65}],
)
def test_derive_key_rejects_bad_input(kwargs: dict[str, Any]) -> None:
    args: dict[str, Any] = {"master_key": bytes(32), "purpose": "p", "context": b"", "length": 32}
    args.update(kwargs)
    with pytest.raises(KexError):
        derive_key(profile="intl", **args)


LOW_ORDER_X25519 = bytes(32)  # the identity point: shared secret would be all zero


@pytest.mark.parametrize(
    "x_pub, mlkem_pub",
    [
        (bytes(31), None),
        (LOW_ORDER_X25519, None),
        (None, bytes(1183)),
        (None, b"\xff" * 1184),  # coefficients >= q fail the FIPS 203 key check
        ("a" * 32, None),
    ],
)
def test_server_rejects_malformed_public_keys(
    keypair: DeviceKeyPair, x_pub: Any, mlkem_pub: Any
) -> None:
    with pytest.raises(KexError):
        server_charge("dev", x_pub or keypair.x_pub, mlkem_pub or keypair.mlkem_pub, "intl")


@pytest.mark.parametrize("device_id", ["", "x" * 257, None])
def test_bad_device_id(keypair: DeviceKeyPair, device_id: Any) -> None:
    with pytest.raises(KexError):
        server_charge(device_id, keypair.x_pub, keypair.mlkem_pub, "intl")


def test_device_rejects_malformed_response(keypair: DeviceKeyPair) -> None:
    resp, _ = server_charge("dev", keypair.x_pub, keypair.mlkem_pub, "intl")
    bad = [
        ChargeResponse(resp.eph_x_pub, resp.ct[:-1]),
        ChargeResponse(resp.eph_x_pub[:-1], resp.ct),
        ChargeResponse(LOW_ORDER_X25519, resp.ct),
    ]
    for r in bad:
        with pytest.raises(KexError):
            device_complete(keypair, "dev", r, "intl")
    with pytest.raises(KexError):
        device_complete(keypair, "dev", (resp.eph_x_pub, resp.ct), "intl")  # type: ignore[arg-type]


def test_tampered_ciphertext_gives_a_different_key(keypair: DeviceKeyPair) -> None:
    # ML-KEM implicit rejection: no error, but the keys no longer agree.
    resp, key = server_charge("dev", keypair.x_pub, keypair.mlkem_pub, "intl")
    ct = bytearray(resp.ct)
    ct[0] ^= 1
    assert device_complete(keypair, "dev", ChargeResponse(resp.eph_x_pub, bytes(ct)), "intl") != key
