"""Device keys from key charging, and the keys other services encrypt under.

Key charging (ARCHITECTURE flow 1): the phone sends X25519 and ML-KEM-768
public keys; shared.kex.server_charge derives the device master key, which is
stored wrapped by the KEK (AAD "device:<id>:v<version>") and never leaves the
server otherwise. Recharging replaces the key: the previous row becomes
`superseded` and its wrapped bytes are erased. Revoking the device marks its
key `revoked` and erases the bytes too: there is no un-revoke, so nothing is
lost that could ever be used again. Data kept at rest must therefore be under
a jurisdiction key, not a device key.

Nothing here is cached: device_master_key reads the state on every call, so
a revocation holds at once in every process. (Request-proof keys derived from
a master key are, for minutes: server/keys/proof_keys.py says why that is safe.)
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select, update

from server.api.errors import Conflict, NotFound, Unprocessable
from server.audit.service import record
from server.dbtypes import utcnow
from server.extensions import db
from server.identity import policy
from server.identity.authn import Principal
from server.identity.models import Device, Jurisdiction
from server.keys.kek import blob_version
from server.keys.keyring import keyring, scrub_on_write
from server.keys.models import DeviceKey
from shared.kex import ChargeResponse, KexError, server_charge


class DeviceKeyUnavailable(Conflict):
    """The device has no usable master key (revoked, uncharged or unknown); see reason."""


@dataclass(frozen=True)
class Charged:
    row: DeviceKey
    response: ChargeResponse


def device_key_aad(device_id: str, version: int) -> bytes:
    return f"device:{device_id}:v{version}".encode()


def charge(principal: Principal, x_pub: bytes, mlkem_pub: bytes) -> Charged:
    """Charge (or recharge) the calling device's master key; one transaction."""
    # Lock the device row so two charges of one device cannot race to one version.
    device = db.session.scalar(select(Device).where(Device.id == principal.device_id)
                               .with_for_update())
    assert device is not None
    policy.authorize(principal.account, "device.charge_key", owner_id=device.account_id)
    if device.status != "active":
        raise DeviceKeyUnavailable("This device is revoked.", reason="device_revoked")
    profile = current_app.config["SHOUWANG"].crypto_profile
    try:
        response, master_key = server_charge(device.id, x_pub, mlkem_pub, profile)
    except KexError as exc:
        raise Unprocessable(f"Key charging failed: {exc}.", reason="bad_public_key") from exc
    previous = list(db.session.scalars(select(DeviceKey).where(
        DeviceKey.device_id == device.id).order_by(DeviceKey.version)))
    now = utcnow()
    scrub_on_write()
    for old in previous:
        if old.state == "active":
            old.state, old.wrapped, old.retired_at = "superseded", None, now
    version = (previous[-1].version if previous else 0) + 1
    wrapped = keyring().kek.wrap(master_key, device_key_aad(device.id, version))
    row = DeviceKey(device_id=device.id, version=version, profile=profile, wrapped=wrapped,
                    kek_version=blob_version(wrapped), state="active", created_at=now)
    db.session.add(row)
    db.session.flush()
    _forget_proof_keys(device.id)
    record("keys.device_recharge" if previous else "keys.device_charge", target_type="device",
           target_id=device.id, details={"key_id": row.id, "version": version,
                                         "profile": profile})
    db.session.commit()
    return Charged(row, response)


def device_master_key(device_id: str) -> bytes:
    """The device's current master key; DeviceKeyUnavailable if revoked or uncharged."""
    device = db.session.get(Device, device_id)
    if device is None:
        raise DeviceKeyUnavailable(f"Unknown device {device_id}.", reason="device_unknown")
    if device.status != "active":
        raise DeviceKeyUnavailable(f"Device {device_id} is revoked: its key is unusable.",
                                   reason="device_revoked")
    row = db.session.scalar(select(DeviceKey).where(
        DeviceKey.device_id == device_id, DeviceKey.state == "active"))
    if row is None or row.wrapped is None:
        raise DeviceKeyUnavailable(f"Device {device_id} has no charged key: it must "
                                   f"POST /api/devices/keys first.", reason="device_uncharged")
    return keyring().kek.unwrap(row.wrapped, device_key_aad(device_id, row.version))


def revoke_device_keys(device_id: str) -> int:
    """Called inside identity's revoke_device transaction: erase the device's key."""
    scrub_on_write()
    result = db.session.execute(
        update(DeviceKey).where(DeviceKey.device_id == device_id,
                                DeviceKey.state == "active")
        .values(state="revoked", wrapped=None, retired_at=utcnow())
        .execution_options(synchronize_session="fetch"))
    count = int(result.rowcount)  # type: ignore[attr-defined]
    _forget_proof_keys(device_id)
    if count:
        record("keys.device_key_revoke", target_type="device", target_id=device_id)
    return count


def _forget_proof_keys(device_id: str) -> None:
    from server.keys import proof_keys  # it derives from the keys kept here

    proof_keys.forget_device(device_id)


def jurisdiction_key_name(jurisdiction_id: int) -> str:
    return f"jurisdiction:{jurisdiction_id}"


def jurisdiction_key(jurisdiction_id: int) -> tuple[int, bytes]:
    """(version, key) of the newest active version of the jurisdiction's data key,
    created on first use inside the caller's transaction (the caller commits).
    The key length follows the deployment profile (32 bytes intl, 16 gm)."""
    if db.session.get(Jurisdiction, jurisdiction_id) is None:
        raise NotFound("Unknown jurisdiction.")
    return keyring().current_data_key(jurisdiction_key_name(jurisdiction_id))


def jurisdiction_key_version(jurisdiction_id: int, version: int) -> bytes:
    """A given version for decryption; KeyUnavailable (409) when destroyed, unknown
    or below min_decryption_version."""
    return keyring().data_key(jurisdiction_key_name(jurisdiction_id), version)
