"""Key-service operations, modelled on Vault's transit engine and the key
states of NIST SP 800-57 Part 1 (Rev. 5 §7). Each call is one transaction
with its audit record; `actor` None means the trusted `flask keys` CLI.

Data-key version states and the transitions allowed (anything else is a 409
with reason "bad_transition"):

    (none)       --create/rotate--> active            newest version only
    active       --rotate-->        deactivated       decrypts, never encrypts
    active|deactivated --suspend--> suspended         decrypts, never encrypts
    suspended    --reactivate-->    active (if newest) | deactivated
    deactivated|suspended --destroy--> destroyed      wrapped bytes erased

SP 800-57 on suspension: a suspended key "shall not be used to apply
cryptographic protection" but may process (decrypt) what was protected before
the suspension; we never encrypt under it, so everything under it predates it.
The newest version cannot be destroyed (rotate first), as in Vault.
Destroying is crypto-shredding: the only copy of the key, wrapped, is erased,
so every ciphertext under that version is unreadable, including ciphertexts
in database backups (a backup made before the destroy still holds the wrapped
key: backups must be rotated out too).
"""

from __future__ import annotations

from sqlalchemy import select

from server.api.errors import Conflict, NotFound, Unprocessable
from server.audit.service import record
from server.dbtypes import utcnow
from server.extensions import db
from server.identity import policy
from server.identity.models import Account
from server.keys.fields import INDEX_KEY
from server.keys.inventory import key_status, rewrap_all, wrapped_under
from server.keys.keyring import keyring, min_decryption_version, scrub_on_write
from server.keys.models import DataKey, KeyPolicy, SigningKey

__all__ = ["create_key", "destroy", "destroy_kek_version", "reactivate", "rewrap", "rotate_kek",
           "rotate_key", "rotate_signing", "set_min_decryption_version", "status", "suspend"]


def _authorize(actor: Account | None) -> None:
    if actor is not None:
        policy.authorize(actor, "keys.manage")


def _via(actor: Account | None, details: dict[str, object]) -> dict[str, object]:
    return details if actor is not None else {**details, "via": "cli"}


def _versions(name: str) -> list[DataKey]:
    rows = list(db.session.scalars(select(DataKey).where(DataKey.name == name)
                                   .order_by(DataKey.version)))
    if not rows:
        raise NotFound(f"No data key named {name!r}.")
    return rows


def _version(name: str, version: int) -> tuple[DataKey, bool]:
    """The row and whether it is the newest version."""
    rows = _versions(name)
    for row in rows:
        if row.version == version:
            return row, row is rows[-1]
    raise NotFound(f"Data key {name!r} has no version {version}.")


def _refuse(row: DataKey, action: str) -> Conflict:
    return Conflict(f"Cannot {action} data key {row.name!r} v{row.version}: it is {row.state}.",
                    reason="bad_transition")


def _change(actor: Account | None, action: str, row: DataKey, state: str,
            purpose: str | None = None) -> DataKey:
    before, row.state, row.state_changed_at = row.state, state, utcnow()
    record(f"keys.data_key_{action}", target_type="data_key",
           target_id=f"{row.name}:v{row.version}", purpose=purpose,
           details=_via(actor, {"name": row.name, "version": row.version, "from": before,
                                "to": state}))
    db.session.commit()
    keyring().forget(row.name)
    return row


def status(actor: Account | None) -> dict[str, object]:
    """Providers, versions and states; never key bytes."""
    _authorize(actor)
    return key_status()


def create_key(actor: Account | None, name: str) -> DataKey:
    _authorize(actor)
    if keyring().latest_row(name) is not None:
        raise Conflict(f"Data key {name!r} exists; rotate it instead.", reason="exists")
    row = keyring().create_data_key(name, "create", _via(actor, {}))
    db.session.commit()
    return row


def rotate_key(actor: Account | None, name: str) -> DataKey:
    """A new newest version; older versions keep decrypting (Vault transit rotate)."""
    _authorize(actor)
    _versions(name)
    if name == INDEX_KEY:
        raise Conflict("The blind-index key is never rotated: every look-up index "
                       "would have to be recomputed.", reason="not_rotatable")
    row = keyring().create_data_key(name, "rotate", _via(actor, {}))
    db.session.commit()
    keyring().forget(name)
    return row


def set_min_decryption_version(actor: Account | None, name: str, version: int) -> KeyPolicy:
    _authorize(actor)
    latest = _versions(name)[-1].version
    if not 1 <= version <= latest:
        raise Unprocessable(f"min_decryption_version must be 1..{latest} for {name!r}.",
                            errors={"min_decryption_version": [f"1..{latest}"]})
    policy_row = db.session.get(KeyPolicy, name) or KeyPolicy(name=name)
    before = min_decryption_version(name)
    policy_row.min_decryption_version, policy_row.updated_at = version, utcnow()
    db.session.add(policy_row)
    record("keys.min_decryption_version", target_type="data_key", target_id=name,
           details=_via(actor, {"name": name, "from": before, "to": version}))
    db.session.commit()
    keyring().forget(name)
    return policy_row


def suspend(actor: Account | None, name: str, version: int, reason: str) -> DataKey:
    _authorize(actor)
    row, _ = _version(name, version)
    if row.state not in ("active", "deactivated"):
        raise _refuse(row, "suspend")
    return _change(actor, "suspend", row, "suspended", purpose=reason)


def reactivate(actor: Account | None, name: str, version: int) -> DataKey:
    _authorize(actor)
    row, newest = _version(name, version)
    if row.state != "suspended":
        raise _refuse(row, "reactivate")
    return _change(actor, "reactivate", row, "active" if newest else "deactivated")


def destroy(actor: Account | None, name: str, version: int, reason: str) -> DataKey:
    """Crypto-shred one version: its wrapped bytes are erased for good."""
    _authorize(actor)
    row, newest = _version(name, version)
    if row.state == "destroyed":
        raise _refuse(row, "destroy")
    if newest:
        raise Conflict(f"Data key {name!r} v{version} is the newest version; rotate the key "
                       f"before destroying it.", reason="newest_version")
    scrub_on_write()
    row.wrapped, row.destroyed_at = None, utcnow()
    return _change(actor, "destroy", row, "destroyed", purpose=reason)


def rotate_signing(actor: Account | None) -> SigningKey:
    _authorize(actor)
    row = keyring().rotate_signing_key()
    record("keys.signing_rotate", target_type="signing_key", target_id=row.kid,
           details=_via(actor, {}))
    db.session.commit()
    return row


def rewrap(actor: Account | None) -> dict[str, int]:
    """Re-wrap every stored key under the newest KEK version (Vault: rewrap)."""
    _authorize(actor)
    counts = rewrap_all(keyring().kek)
    record("keys.rewrap", target_type="kek", target_id=str(counts["kek_version"]),
           details=_via(actor, dict(counts)))
    db.session.commit()
    return counts


def rotate_kek(actor: Account | None, then_rewrap: bool = True) -> dict[str, int]:
    """A new KEK version for all new wrapping; with then_rewrap, move every stored key to it."""
    _authorize(actor)
    ring = keyring()
    before = ring.kek.current_version()
    version = ring.kek.rotate()
    record("keys.kek_rotate", target_type="kek", target_id=str(version),
           details=_via(actor, {"provider": ring.kek.name, "from": before, "to": version}))
    db.session.commit()
    return rewrap(actor) if then_rewrap else {"kek_version": version}


def destroy_kek_version(actor: Account | None, version: int, reason: str) -> dict[str, object]:
    """Forget an old KEK version once nothing is wrapped under it (rotate + rewrap
    first). Wrapped keys in database backups made before a rewrap or a data-key
    destroy were wrapped under it: after this they are unreadable too."""
    _authorize(actor)
    kek = keyring().kek
    if version not in kek.versions() or version == kek.current_version():
        raise Conflict(f"KEK v{version} is the current version or does not exist.",
                       reason="bad_kek_version")
    in_use = wrapped_under(version)
    if in_use:
        raise Conflict(f"{in_use} stored keys are still wrapped under KEK v{version}: "
                       f"rewrap first.", reason="kek_in_use")
    record("keys.kek_destroy", target_type="kek", target_id=str(version), purpose=reason,
           details=_via(actor, {"provider": kek.name, "version": version}))
    db.session.flush()
    kek.destroy_version(version)  # after the audit row is written, before it commits
    db.session.commit()
    return {"provider": kek.name, "destroyed": version, "versions": kek.versions()}
