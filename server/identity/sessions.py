"""Logging in, enrolling a device, refreshing and ending sessions.

Refresh tokens rotate on every use (OAuth 2.0 Security BCP, RFC 9700 §4.14):
using one that was already used revokes the whole family, because either the
client or a thief holds a stale copy and we cannot tell which.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import select, update

from server.api.errors import Conflict, Unauthorized
from server.audit.service import record
from server.dbtypes import utcnow
from server.extensions import db
from server.identity import validity
from server.identity.authn import Principal
from server.identity.models import Account, ActivationCode, Device, RefreshToken, Session
from server.identity.tokens import issue_access_token
from server.keys.fields import decrypt_field
from shared.enums import PASSWORD_ROLES, Role
from shared.proof import VerifiedProof

_hasher = PasswordHasher()
# Verified against when the username is unknown, so timing does not reveal it.
_DUMMY_HASH = _hasher.hash("not a real password")


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    expires_in: int
    refresh_token: str
    account: Account
    device: Device


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def hash_activation_code(code: str) -> str:
    return _sha(code.replace("-", "").upper())


def login_password(username: str, password: str, totp: str | None, proof: VerifiedProof,
                   jwk: dict[str, str], device_name: str, platform: str) -> TokenPair:
    account = db.session.scalar(select(Account).where(Account.username == username))
    try:
        _hasher.verify(account.password_hash if account and account.password_hash
                       else _DUMMY_HASH, password)
        ok = account is not None and account.password_hash is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or account is None or Role(account.role) not in PASSWORD_ROLES:
        _fail("auth.login", account, "bad_credentials")
        raise Unauthorized("Wrong username or password.", reason="bad_credentials")
    if not account.active:
        _fail("auth.login", account, "account_disabled")
        raise Unauthorized("Account is disabled.", reason="account_disabled")
    if account.totp_enabled and not check_totp(account, totp):
        _fail("auth.login", account, "totp")
        raise Unauthorized("A valid authenticator code is required.", reason="totp_required")
    device = _device_for(account, proof.jkt, jwk, device_name, platform)
    pair = _start_session(account, device, "password")
    record("auth.login", actor=account, target_type="device", target_id=device.id)
    db.session.commit()
    return pair


def activate_device(code: str, proof: VerifiedProof, jwk: dict[str, str],
                    device_name: str, platform: str) -> TokenPair:
    now = utcnow()
    row = db.session.scalar(select(ActivationCode)
                            .where(ActivationCode.code_hash == hash_activation_code(code)))
    if row is None or row.used_at is not None or row.expires_at < now:
        raise Unauthorized("The activation code is wrong, used or expired.",
                           reason="bad_activation_code")
    # Burn the code with a guarded UPDATE so two phones racing with one code
    # cannot both enroll.
    burned = db.session.execute(update(ActivationCode).where(
        ActivationCode.id == row.id, ActivationCode.used_at.is_(None)).values(used_at=now))
    if burned.rowcount != 1:  # type: ignore[attr-defined]
        raise Unauthorized("The activation code was already used.", reason="bad_activation_code")
    account = db.session.get(Account, row.account_id)
    assert account is not None
    if not account.active:
        raise Unauthorized("Account is disabled.", reason="account_disabled")
    device = _device_for(account, proof.jkt, jwk, device_name, platform)
    pair = _start_session(account, device, "activation")
    record("device.enroll", actor=account, target_type="device", target_id=device.id)
    db.session.commit()
    return pair


def refresh(refresh_token: str, proof: VerifiedProof) -> TokenPair:
    row = db.session.scalar(select(RefreshToken)
                            .where(RefreshToken.token_hash == _sha(refresh_token)))
    if row is None:
        raise Unauthorized("Unknown refresh token.", reason="bad_refresh_token")
    session = db.session.get(Session, row.session_id)
    assert session is not None
    if session.device.jkt != proof.jkt:
        raise Unauthorized("The refresh token belongs to another device.",
                           reason="key_mismatch")
    if row.used_at is not None:
        if session.revoked_at is None:
            session.revoked_at, session.revoked_reason = utcnow(), "refresh_reuse"
            record("auth.refresh_reuse", actor=session.account, target_type="session",
                   target_id=session.id, outcome="revoked")
            validity.revoke(sessions=[session.id])  # before and after: see validity.py
            db.session.commit()
            validity.revoke(sessions=[session.id])
        raise Unauthorized("Refresh token reuse: the session is revoked.",
                           reason="refresh_reuse")
    if session.revoked_at is not None or session.expires_at < utcnow():
        raise Unauthorized("Session has ended.", reason="session_ended")
    if not session.account.active or session.device.status != "active":
        raise Unauthorized("Account or device is no longer active.", reason="inactive")
    used = db.session.execute(update(RefreshToken).where(
        RefreshToken.id == row.id, RefreshToken.used_at.is_(None)).values(used_at=utcnow()))
    if used.rowcount != 1:  # type: ignore[attr-defined]
        raise Unauthorized("Refresh token reuse.", reason="refresh_reuse")
    pair = _tokens(session)
    db.session.commit()
    return pair


def logout(principal: Principal) -> None:
    session = principal.session
    session.revoked_at, session.revoked_reason = utcnow(), "logout"
    record("auth.logout", target_type="session", target_id=session.id)
    validity.revoke(sessions=[session.id])  # before and after: see validity.py
    db.session.commit()
    validity.revoke(sessions=[session.id])


def _device_for(account: Account, jkt: str, jwk: dict[str, str], name: str,
                platform: str) -> Device:
    device = db.session.scalar(select(Device).where(Device.jkt == jkt))
    if device is None:
        device = Device(account_id=account.id, jkt=jkt, public_jwk=jwk, name=name,
                        platform=platform)
        db.session.add(device)
        db.session.flush()
    elif device.account_id != account.id:
        raise Conflict("This device key is enrolled for another account.", reason="device_taken")
    elif device.status != "active":
        raise Unauthorized("This device is revoked.", reason="device_revoked")
    return device


def _start_session(account: Account, device: Device, method: str) -> TokenPair:
    ttl = current_app.config["SHOUWANG"].refresh_token_ttl_s
    session = Session(account_id=account.id, device_id=device.id, method=method,
                      expires_at=utcnow() + timedelta(seconds=ttl))
    session.account, session.device = account, device
    db.session.add(session)
    db.session.flush()
    return _tokens(session)


def _tokens(session: Session) -> TokenPair:
    refresh_token = secrets.token_urlsafe(32)
    db.session.add(RefreshToken(session_id=session.id, token_hash=_sha(refresh_token)))
    access, ttl = issue_access_token(session.account_id, session.id, session.account.role,
                                     session.account.jurisdiction_id, session.device.jkt)
    return TokenPair(access, ttl, refresh_token, session.account, session.device)


def check_totp(account: Account, code: str | None) -> bool:
    if not code or account.totp_secret_enc is None:
        return False
    totp = pyotp.TOTP(decrypt_field("account.totp", account.totp_secret_enc))
    now = utcnow().timestamp()
    for offset in (0, -1, 1):
        step = int(now // 30) + offset
        if totp.at(step * 30) == code:
            # A code is single-use (RFC 6238 §5.2): no replay within its window.
            if account.totp_last_step is not None and step <= account.totp_last_step:
                return False
            account.totp_last_step = step
            return True
    return False


def _fail(action: str, account: Account | None, reason: str) -> None:
    record(action, actor=account, outcome="denied", details={"reason": reason},
           target_type="account", target_id=account.id if account else None)
    db.session.commit()


def session_payload(pair: TokenPair) -> dict[str, Any]:
    return {"access_token": pair.access_token, "token_type": "DPoP",
            "expires_in": pair.expires_in, "refresh_token": pair.refresh_token,
            "account": pair.account, "device_id": pair.device.id}
