"""Algorithm profiles: both AEADs behave alike and match published vectors."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.exceptions import InvalidTag

from shared.profiles import GM, INTL, PROFILES, SM4GCM, Profile, get_profile, profile_by_wire_id

NONCE = bytes(range(12))


@pytest.fixture(params=sorted(PROFILES))
def profile(request: pytest.FixtureRequest) -> Profile:
    return get_profile(request.param)


def test_profile_parameters() -> None:
    assert (INTL.key_size, INTL.nonce_size, INTL.hash().name) == (32, 12, "sha256")
    assert (GM.key_size, GM.nonce_size, GM.hash().name) == (16, 12, "sm3")
    assert get_profile(GM) is GM
    assert profile_by_wire_id(INTL.wire_id) is INTL


def test_unknown_profile_names_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match="allowed: gm, intl"):
        get_profile("aes128")
    with pytest.raises(ValueError):
        profile_by_wire_id(99)


def test_roundtrip_appends_16_byte_tag(profile: Profile) -> None:
    aead = profile.aead(bytes(profile.key_size))
    ct = aead.encrypt(NONCE, b"evidence", b"aad")
    assert len(ct) == len(b"evidence") + 16
    assert aead.decrypt(NONCE, ct, b"aad") == b"evidence"
    assert aead.decrypt(NONCE, aead.encrypt(NONCE, b"", None), None) == b""


@pytest.mark.parametrize("where", ["ciphertext", "tag", "aad", "nonce", "short"])
def test_any_change_fails_authentication(profile: Profile, where: str) -> None:
    aead = profile.aead(bytes(profile.key_size))
    ct = bytearray(aead.encrypt(NONCE, b"evidence", b"aad"))
    nonce, aad = NONCE, b"aad"
    if where == "ciphertext":
        ct[0] ^= 1
    elif where == "tag":
        ct[-1] ^= 1
    elif where == "aad":
        aad = b"aae"
    elif where == "nonce":
        nonce = bytes(12)
    else:
        ct = ct[:15]
    with pytest.raises(InvalidTag):
        aead.decrypt(nonce, bytes(ct), aad)


def test_wrong_key_fails(profile: Profile) -> None:
    ct = profile.aead(bytes(profile.key_size)).encrypt(NONCE, b"x", None)
    with pytest.raises(InvalidTag):
        profile.aead(b"\x01" * profile.key_size).decrypt(NONCE, ct, None)


def test_key_and_nonce_sizes_are_enforced(profile: Profile) -> None:
    other = 16 if profile.key_size == 32 else 32  # AESGCM alone would take 16
    with pytest.raises(ValueError):
        profile.aead(bytes(other))
    with pytest.raises(ValueError):
        profile.aead(bytes(profile.key_size)).encrypt(bytes(8), b"x", None)


def test_digests_match_standard_vectors() -> None:
    assert INTL.digest(b"abc") == hashlib.sha256(b"abc").digest()
    # GB/T 32905-2016 appendix A, example 1.
    assert GM.digest(b"abc").hex() == (
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    )
    assert INTL.digest_size == GM.digest_size == 32


def test_sm4_gcm_matches_rfc8998() -> None:
    # RFC 8998, appendix A.1 (SM4-GCM test vector).
    key = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    iv = bytes.fromhex("00001234567800000000ABCD")
    aad = bytes.fromhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2")
    pt = bytes.fromhex("".join(c * 16 for c in "ABCDEFEA"))
    expected = (
        "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
        "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D"
        "83DE3541E4C2B58177E065A9BF7B62EC"
    )
    assert SM4GCM(key).encrypt(iv, pt, aad).hex().upper() == expected
    assert SM4GCM(key).decrypt(iv, bytes.fromhex(expected), aad) == pt
