"""Key charging: hybrid X25519 + ML-KEM-768 agreement of a device master key.

Flow::

    phone                                     key service
    DeviceKeyPair.generate()
    device_id, x_pub, mlkem_pub  ------------>
                                              (ss_kem, ct) = ML-KEM-768.Encaps(mlkem_pub)
                                              eph = fresh X25519 key
                                              ss_x = X25519(eph, x_pub)
                                 <------------ ChargeResponse(eph_x_pub, ct)
    ss_kem = ML-KEM-768.Decaps(ct)
    ss_x   = X25519(x_priv, eph_x_pub)
    both:  master_key = HKDF(ikm, salt, info) (32 bytes)

Construction (hybrid combiner, safe while either primitive is unbroken):

* Primitives: ML-KEM-768 (FIPS 203), X25519 (RFC 7748; an all-zero shared
  secret, i.e. a low-order peer key, is rejected).
* Shared-secret concatenation ``ss_kem || ss_x`` -- ML-KEM first, as in
  the TLS X25519MLKEM768 group (draft-ietf-tls-ecdhe-mlkem) and allowed as
  ``Z' = Z || T`` by NIST SP 800-56C Rev. 2 / SP 800-227.
* As in X-Wing (draft-connolly-cfrg-xwing-kem), the X25519 public keys are
  bound into the KDF; we also bind the ML-KEM ciphertext, a hash of the
  ML-KEM public key, the device id and the profile (cheap; no reliance on
  ML-KEM's ciphertext-binding property).
* KDF: HKDF (RFC 5869) with the profile hash: SHA-256 (``intl``) or SM3
  (``gm``). Note that ``gm`` changes only the hash: X25519 / ML-KEM are not
  GM algorithms.

Exact bytes (``LP(x) = uint32_be(len(x)) || x``)::

    ikm  = ss_kem (32) || ss_x (32)
    salt = b"shouwang/kex/v1/salt"
    info = LP(b"shouwang/kex/v1") || LP(profile.name) || LP(device_id, UTF-8)
           || LP(device_x_pub (32)) || LP(H(device_mlkem_pub (1184)))
           || LP(eph_x_pub (32)) || LP(ct (1088))
    master_key = HKDF-Expand(HKDF-Extract(salt, ikm), info, 32)

``derive_key`` derives per-object keys from a master key::

    HKDF(ikm=master_key, salt=b"shouwang/derive/v1",
         info=LP(purpose, UTF-8) || LP(context), length)

An invalid ML-KEM ciphertext of the right length does not raise: ML-KEM's
implicit rejection yields an unrelated key, which fails at first use.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PrivateKey, MLKEM768PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shared.profiles import Profile, get_profile

MASTER_KEY_SIZE = 32
X25519_PUB_SIZE = 32
MLKEM768_PUB_SIZE = 1184
MLKEM768_CT_SIZE = 1088
MAX_DEVICE_ID_BYTES = 256

_KEX_LABEL = b"shouwang/kex/v1"
_KEX_SALT = b"shouwang/kex/v1/salt"
_DERIVE_SALT = b"shouwang/derive/v1"
_KEYPAIR_VERSION = 1
_KEYPAIR_LEN = 1 + 32 + 64  # version || X25519 private || ML-KEM seed


class KexError(Exception):
    """Any malformed key-charging input (keys, ciphertext, ids, lengths)."""


def _lp(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


class DeviceKeyPair:
    """The phone's long-lived X25519 + ML-KEM-768 key pair."""

    def __init__(self, x_priv: X25519PrivateKey, mlkem_priv: MLKEM768PrivateKey) -> None:
        self._x = x_priv
        self._kem = mlkem_priv

    @classmethod
    def generate(cls) -> DeviceKeyPair:
        return cls(X25519PrivateKey.generate(), MLKEM768PrivateKey.generate())

    @property
    def x_pub(self) -> bytes:
        return self._x.public_key().public_bytes_raw()

    @property
    def mlkem_pub(self) -> bytes:
        return self._kem.public_key().public_bytes_raw()

    def private_bytes(self) -> bytes:
        """97 secret bytes; store them only in the platform keystore."""
        return (
            bytes([_KEYPAIR_VERSION]) + self._x.private_bytes_raw() + self._kem.private_bytes_raw()
        )

    @classmethod
    def from_private_bytes(cls, data: bytes) -> DeviceKeyPair:
        if not isinstance(data, bytes) or len(data) != _KEYPAIR_LEN:
            raise KexError("bad device key pair encoding")
        if data[0] != _KEYPAIR_VERSION:
            raise KexError("unsupported device key pair version")
        try:
            return cls(
                X25519PrivateKey.from_private_bytes(data[1:33]),
                MLKEM768PrivateKey.from_seed_bytes(data[33:]),
            )
        except (ValueError, TypeError) as exc:
            raise KexError("bad device key pair encoding") from exc


@dataclass(frozen=True)
class ChargeResponse:
    eph_x_pub: bytes  # 32 bytes
    ct: bytes  # 1088 bytes


def _profile(profile: Profile | str) -> Profile:
    try:
        return get_profile(profile)
    except ValueError as exc:
        raise KexError(str(exc)) from None


def _device_id_bytes(device_id: str) -> bytes:
    if not isinstance(device_id, str) or not device_id:
        raise KexError("device_id must be a non-empty string")
    raw = device_id.encode("utf-8")
    if len(raw) > MAX_DEVICE_ID_BYTES:
        raise KexError("device_id too long")
    return raw


def _need_bytes(value: object, size: int, what: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != size:
        raise KexError(f"{what} must be {size} bytes")
    return value


def _x25519(priv: X25519PrivateKey, peer_pub: bytes) -> bytes:
    try:
        # cryptography raises ValueError for an all-zero (low-order) result.
        return priv.exchange(X25519PublicKey.from_public_bytes(peer_pub))
    except ValueError as exc:
        raise KexError("bad X25519 public key") from exc


def _master_key(
    profile: Profile,
    device_id: bytes,
    x_pub: bytes,
    mlkem_pub: bytes,
    eph_x_pub: bytes,
    ct: bytes,
    ss_kem: bytes,
    ss_x: bytes,
) -> bytes:
    """The combiner shared by both sides (byte layout in the module docstring)."""
    info = b"".join(
        _lp(f)
        for f in (
            _KEX_LABEL,
            profile.name.encode("ascii"),
            device_id,
            x_pub,
            profile.digest(mlkem_pub),
            eph_x_pub,
            ct,
        )
    )
    hkdf = HKDF(algorithm=profile.hash(), length=MASTER_KEY_SIZE, salt=_KEX_SALT, info=info)
    return hkdf.derive(ss_kem + ss_x)


def server_charge(
    device_id: str, x_pub: bytes, mlkem_pub: bytes, profile: Profile | str
) -> tuple[ChargeResponse, bytes]:
    """Key-service side: returns the response to send and the master key."""
    prof = _profile(profile)
    did = _device_id_bytes(device_id)
    _need_bytes(x_pub, X25519_PUB_SIZE, "x_pub")
    _need_bytes(mlkem_pub, MLKEM768_PUB_SIZE, "mlkem_pub")
    try:
        # from_public_bytes performs the FIPS 203 encapsulation-key check.
        ss_kem, ct = MLKEM768PublicKey.from_public_bytes(mlkem_pub).encapsulate()
    except ValueError as exc:
        raise KexError("bad ML-KEM-768 public key") from exc
    eph = X25519PrivateKey.generate()
    ss_x = _x25519(eph, x_pub)
    eph_x_pub = eph.public_key().public_bytes_raw()
    key = _master_key(prof, did, x_pub, mlkem_pub, eph_x_pub, ct, ss_kem, ss_x)
    return ChargeResponse(eph_x_pub=eph_x_pub, ct=ct), key


def device_complete(
    keypair: DeviceKeyPair, device_id: str, response: ChargeResponse, profile: Profile | str
) -> bytes:
    """Phone side: derive the same master key from the service's response."""
    prof = _profile(profile)
    did = _device_id_bytes(device_id)
    if not isinstance(response, ChargeResponse):
        raise KexError("response must be a ChargeResponse")
    eph_x_pub = _need_bytes(response.eph_x_pub, X25519_PUB_SIZE, "eph_x_pub")
    ct = _need_bytes(response.ct, MLKEM768_CT_SIZE, "ct")
    try:
        ss_kem = keypair._kem.decapsulate(ct)
    except ValueError as exc:
        raise KexError("bad ML-KEM-768 ciphertext") from exc
    ss_x = _x25519(keypair._x, eph_x_pub)
    return _master_key(prof, did, keypair.x_pub, keypair.mlkem_pub, eph_x_pub, ct, ss_kem, ss_x)


def derive_key(
    master_key: bytes, purpose: str, context: bytes, length: int, profile: Profile | str
) -> bytes:
    """Per-object key: HKDF(master_key, info = LP(purpose) || LP(context))."""
    prof = _profile(profile)
    _need_bytes(master_key, MASTER_KEY_SIZE, "master_key")
    if not isinstance(purpose, str) or not purpose:
        raise KexError("purpose must be a non-empty string")
    if not isinstance(context, bytes):
        raise KexError("context must be bytes")
    if not isinstance(length, int) or not 16 <= length <= 64:
        raise KexError("length must be 16..64")
    info = _lp(purpose.encode("utf-8")) + _lp(context)
    return HKDF(algorithm=prof.hash(), length=length, salt=_DERIVE_SALT, info=info).derive(
        master_key
    )
