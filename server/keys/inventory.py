"""Walks over every stored wrapped key: the status report and the KEK rewrap.

Rewrap unwraps each key and wraps it again under the newest KEK version
inside this process; the plaintext key never leaves it (with a PKCS#11 KEK
it exists only in this process's memory between C_Decrypt and C_Encrypt).
Rows are moved in batches, each its own transaction, with a guarded UPDATE
(same KEK version, bytes still present) so a key destroyed or superseded
meanwhile is never brought back. Rerunning finishes an interrupted rewrap.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import func, select, update

from server.extensions import db
from server.keys.devices import device_key_aad
from server.keys.kek import KEKError, KEKProvider, blob_version
from server.keys.keyring import deployment_profile, keyring, min_decryption_version
from server.keys.models import DataKey, DeviceKey, SigningKey

BATCH = 200


def _rewrap_table(kek: KEKProvider, model: Any, aad: Any, current: int) -> tuple[int, int]:
    done = failed = last_id = 0
    while True:
        rows = db.session.execute(
            select(model).where(model.id > last_id, model.kek_version < current,
                                model.wrapped.is_not(None))
            .order_by(model.id).limit(BATCH)).scalars().all()
        if not rows:
            return done, failed
        for row in rows:
            last_id = row.id
            try:
                blob = kek.wrap(kek.unwrap(row.wrapped, aad(row)), aad(row))
            except KEKError:
                failed += 1  # reported, not fatal: one bad row must not block the rest
                continue
            result = db.session.execute(
                update(model).where(model.id == row.id, model.kek_version == row.kek_version,
                                    model.wrapped.is_not(None))
                .values(wrapped=blob, kek_version=blob_version(blob))
                .execution_options(synchronize_session=False))
            done += int(result.rowcount)  # type: ignore[attr-defined]
        db.session.commit()
        db.session.expire_all()


def rewrap_all(kek: KEKProvider) -> dict[str, int]:
    current = kek.current_version()
    data, failed_data = _rewrap_table(kek, DataKey, lambda r: r.name.encode(), current)
    devices, failed_dev = _rewrap_table(
        kek, DeviceKey, lambda r: device_key_aad(r.device_id, r.version), current)
    signing = failed_sig = 0
    for row in db.session.scalars(select(SigningKey)):
        if blob_version(row.wrapped_private) < current:
            aad = b"signing:" + row.kid.encode()
            try:
                row.wrapped_private = kek.wrap(kek.unwrap(row.wrapped_private, aad), aad)
                signing += 1
            except KEKError:
                failed_sig += 1
    db.session.commit()
    return {"kek_version": current, "data_keys": data, "device_keys": devices,
            "signing_keys": signing, "failed": failed_data + failed_dev + failed_sig}


def wrapped_under(kek_version: int) -> int:
    """How many stored keys still need KEK version `kek_version` to unwrap."""
    count = sum(db.session.scalar(select(func.count()).select_from(model).where(
        model.kek_version == kek_version, model.wrapped.is_not(None))) or 0
        for model in (DataKey, DeviceKey))
    return count + sum(1 for blob in db.session.scalars(select(SigningKey.wrapped_private))
                       if blob_version(blob) == kek_version)


def key_status() -> dict[str, Any]:
    ring = keyring()
    wrapped_by: Counter[int] = Counter()
    for model in (DataKey, DeviceKey):
        for version, count in db.session.execute(
                select(model.kek_version, func.count()).where(model.wrapped.is_not(None))
                .group_by(model.kek_version)):
            wrapped_by[version] += count
    signing = list(db.session.scalars(select(SigningKey).order_by(SigningKey.created_at)))
    wrapped_by.update(blob_version(row.wrapped_private) for row in signing)

    names: dict[str, list[DataKey]] = {}
    for row in db.session.scalars(select(DataKey).order_by(DataKey.name, DataKey.version)):
        names.setdefault(row.name, []).append(row)
    device_states = {state: count for state, count in db.session.execute(
        select(DeviceKey.state, func.count()).group_by(DeviceKey.state))}
    return {
        "kek": {"provider": ring.kek.name, "current_version": ring.kek.current_version(),
                "versions": ring.kek.versions(),
                "wrapped_keys_by_version": {str(v): n for v, n in sorted(wrapped_by.items())}},
        "crypto_profile": deployment_profile().name,
        "data_keys": [
            {"name": name, "latest_version": rows[-1].version,
             "min_decryption_version": min_decryption_version(name),
             "versions": [{"version": r.version, "state": r.state, "profile": r.profile,
                           "kek_version": r.kek_version, "created_at": r.created_at,
                           "state_changed_at": r.state_changed_at,
                           "destroyed_at": r.destroyed_at} for r in rows]}
            for name, rows in names.items()],
        "device_keys": device_states,
        "signing_keys": [{"kid": r.kid, "created_at": r.created_at, "retired_at": r.retired_at}
                         for r in signing],
    }
