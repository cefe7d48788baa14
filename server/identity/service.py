"""Accounts, jurisdictions, devices: each call one transaction with its audit record."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import pyotp
from sqlalchemy import select

from server.api.errors import Conflict, NotFound, Unprocessable
from server.audit.service import record
from server.dbtypes import utcnow
from server.extensions import db
from server.identity import policy, validity
from server.identity.models import Account, ActivationCode, Device, Jurisdiction, Session
from server.identity.sessions import check_totp, hash_activation_code, hash_password
from server.keys.devices import revoke_device_keys
from server.keys.fields import blind_index, decrypt_field, encrypt_field
from shared.enums import PASSWORD_ROLES, Role

ACTIVATION_TTL = timedelta(days=7)
# Crockford-style alphabet: no 0/O, 1/I/L confusion when read aloud or typed.
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"


def _jurisdiction(jurisdiction_id: int) -> Jurisdiction:
    jur = db.session.get(Jurisdiction, jurisdiction_id)
    if jur is None:
        raise Unprocessable("Unknown jurisdiction.", errors={"jurisdiction_id": ["unknown"]})
    return jur


def get_account(actor: Account, account_id: str, action: str = "account.read") -> Account:
    account = db.session.get(Account, account_id)
    if account is None:
        raise NotFound("Not found.")
    policy.authorize(actor, action, account.jurisdiction, owner_id=account.id)
    return account


def list_accounts(actor: Account, role: str | None = None) -> Any:
    policy.authorize(actor, "account.read")
    stmt = policy.scoped(select(Account), actor, Account.jurisdiction_id)
    if role:
        stmt = stmt.where(Account.role == role)
    return stmt.order_by(Account.created_at, Account.id)


def create_account(actor: Account, data: dict[str, Any]) -> tuple[Account, str | None]:
    role = Role(data["role"])
    jur = _jurisdiction(data.get("jurisdiction_id") or actor.jurisdiction_id)
    policy.authorize_create(actor, role, jur)
    if db.session.scalar(select(Account.id).where(Account.username == data["username"])):
        raise Conflict("That username is taken.", errors={"username": ["taken"]})
    password = data.get("password")
    if role in PASSWORD_ROLES and not password:
        raise Unprocessable("This role logs in with a password.",
                            errors={"password": ["required for this role"]})
    if role not in PASSWORD_ROLES and password:
        raise Unprocessable("This role enrolls a device; it has no password.",
                            errors={"password": ["not allowed for this role"]})
    account = Account(username=data["username"], display_name=data["display_name"],
                      role=role.value, jurisdiction_id=jur.id, created_by_id=actor.id,
                      password_hash=hash_password(password) if password else None)
    if data.get("id_number"):
        account.id_number_enc = encrypt_field("account.id_number", data["id_number"])
        account.id_number_index = blind_index("account.id_number", data["id_number"])
    db.session.add(account)
    db.session.flush()
    code = None if role in PASSWORD_ROLES else _new_activation_code(account)
    record("account.create", actor=actor, target_type="account", target_id=account.id,
           details={"role": role.value, "jurisdiction_id": jur.id})
    db.session.commit()
    return account, code


def issue_activation_code(actor: Account, account_id: str) -> str:
    account = get_account(actor, account_id, "account.issue_activation")
    if Role(account.role) in PASSWORD_ROLES:
        raise Unprocessable("This role logs in with a password.", reason="password_role")
    code = _new_activation_code(account)
    record("account.issue_activation", actor=actor, target_type="account", target_id=account.id)
    db.session.commit()
    return code


def _new_activation_code(account: Account) -> str:
    # 15 symbols of 30 = 73 bits: guessing is hopeless under the rate limit.
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(15))
    db.session.add(ActivationCode(account_id=account.id, code_hash=hash_activation_code(raw),
                                  expires_at=utcnow() + ACTIVATION_TTL))
    return "-".join(raw[i:i + 5] for i in range(0, 15, 5))


def disable_account(actor: Account, account_id: str, reason: str) -> Account:
    account = get_account(actor, account_id, "account.disable")
    if account.id == actor.id:
        raise Unprocessable("You cannot disable your own account.", reason="self")
    account.active, account.disabled_at = False, utcnow()
    ended = []
    for session in db.session.scalars(select(Session).where(
            Session.account_id == account.id, Session.revoked_at.is_(None))):
        session.revoked_at, session.revoked_reason = utcnow(), "account_disabled"
        ended.append(session.id)
    record("account.disable", actor=actor, target_type="account", target_id=account.id,
           purpose=reason)
    # Redis too, before and after the commit (validity.py): the next request of
    # this account is refused in every process.
    validity.revoke(sessions=ended, accounts=[account.id])
    db.session.commit()
    validity.revoke(sessions=ended, accounts=[account.id])
    return account


def reveal_identity(actor: Account, account_id: str, purpose: str) -> dict[str, Any]:
    """The ID number in the clear: always with a stated purpose, always audited."""
    account = get_account(actor, account_id, "account.reveal_identity")
    value = (decrypt_field("account.id_number", account.id_number_enc)
             if account.id_number_enc else None)
    record("account.reveal_identity", actor=actor, target_type="account",
           target_id=account.id, purpose=purpose)
    db.session.commit()
    return {"account_id": account.id, "id_number": value}


def list_devices(actor: Account, account_id: str) -> list[Device]:
    account = get_account(actor, account_id, "device.read")
    return list(db.session.scalars(select(Device).where(Device.account_id == account.id)
                                   .order_by(Device.created_at)))


def revoke_device(actor: Account, device_id: str, reason: str) -> Device:
    """A lost or compromised phone: its tokens stop working on the next request."""
    device = db.session.get(Device, device_id)
    if device is None:
        raise NotFound("Not found.")
    policy.authorize(actor, "device.revoke", device.account.jurisdiction,
                     owner_id=device.account_id)
    if device.status != "revoked":
        device.status, device.revoked_at, device.revoked_reason = "revoked", utcnow(), reason
        revoke_device_keys(device.id)  # its charged master key is erased too
        ended = []
        for session in db.session.scalars(select(Session).where(
                Session.device_id == device.id, Session.revoked_at.is_(None))):
            session.revoked_at, session.revoked_reason = utcnow(), "device_revoked"
            ended.append(session.id)
        record("device.revoke", actor=actor, target_type="device", target_id=device.id,
               purpose=reason)
        # Redis too, before and after the commit (validity.py): the phone's
        # next request is refused in every process.
        validity.revoke(sessions=ended, device_jkts=[device.jkt])
        db.session.commit()
        validity.revoke(sessions=ended, device_jkts=[device.jkt])
    return device


def list_jurisdictions(actor: Account) -> list[Jurisdiction]:
    policy.authorize(actor, "jurisdiction.read")
    subtree = Jurisdiction.path.startswith(actor.jurisdiction.path, autoescape=True)
    return list(db.session.scalars(select(Jurisdiction).where(subtree).order_by(Jurisdiction.path)))


def create_jurisdiction(actor: Account | None, code: str, name: str, kind: str,
                        parent_id: int | None) -> Jurisdiction:
    parent = _jurisdiction(parent_id) if parent_id is not None else None
    if actor is not None:
        policy.authorize(actor, "jurisdiction.create", parent)
        if parent is None:
            raise Unprocessable("A new jurisdiction needs a parent.",
                                errors={"parent_id": ["required"]})
    if db.session.scalar(select(Jurisdiction.id).where(Jurisdiction.code == code)):
        raise Conflict("That code is taken.", errors={"code": ["taken"]})
    jur = Jurisdiction(code=code, name=name, kind=kind, parent_id=parent_id)
    db.session.add(jur)
    db.session.flush()
    jur.path = f"{parent.path if parent else '/'}{jur.id}/"
    record("jurisdiction.create", actor=actor, target_type="jurisdiction", target_id=str(jur.id))
    db.session.commit()
    return jur


def totp_setup(account: Account) -> str:
    if Role(account.role) not in PASSWORD_ROLES:
        raise Unprocessable("Only password accounts use an authenticator.", reason="role")
    secret = pyotp.random_base32()
    account.totp_secret_enc = encrypt_field("account.totp", secret)
    account.totp_enabled = False
    record("account.totp_setup", actor=account, target_type="account", target_id=account.id)
    db.session.commit()
    return pyotp.TOTP(secret).provisioning_uri(name=account.username, issuer_name="Shouwang")


def totp_confirm(account: Account, code: str) -> None:
    if account.totp_secret_enc is None or not check_totp(account, code):
        raise Unprocessable("That code is not valid.", errors={"code": ["invalid"]})
    account.totp_enabled = True
    record("account.totp_enable", actor=account, target_type="account", target_id=account.id)
    db.session.commit()
