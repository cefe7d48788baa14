"""Authenticating a request: device-bound token + DPoP proof + single-use nonce.

Every check that can end a login (logout, disabled account, revoked device)
is read from the database on each request, so it takes effect on the next
request in every process; only proof nonces live in Redis.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from flask import g, request
from sqlalchemy.orm import joinedload

from server.api.errors import Forbidden, Unauthorized
from server.dbtypes import utcnow
from server.extensions import db, get_redis
from server.identity.models import Account, Device, Session
from server.identity.tokens import TokenError, verify_access_token
from shared.proof import MAX_AGE_S, MAX_FUTURE_S, ProofError, VerifiedProof, verify_proof

NONCE_TTL_S = MAX_AGE_S + MAX_FUTURE_S + 10
EPOCH_KEY = "dpop:epoch"  # never expires: its loss is how a restart is noticed
# Built once: constructing loader options costs more than the query cache saves.
_SESSION_LOAD = [joinedload(Session.account), joinedload(Session.device)]


@dataclass(frozen=True)
class Principal:
    account: Account
    device: Device
    session: Session

    @property
    def role(self) -> str:
        return self.account.role


def check_request_proof(access_token: str | None = None) -> VerifiedProof:
    """Verify the DPoP header of this request and burn its jti."""
    try:
        proof = verify_proof(request.headers.get("DPoP", ""), request.method, request.url,
                             request.get_data(cache=True), access_token=access_token)
    except ProofError as exc:
        raise Unauthorized(str(exc), reason="invalid_proof") from exc
    # One round trip: SET NX on the jti (the first use wins in every process)
    # and the nonce store's epoch. A Redis that restarted or was flushed has
    # forgotten which jtis were used, so it starts a new epoch and every proof
    # signed in an earlier second is refused: the phone signs a fresh one.
    # (iat has one-second resolution: a proof signed and spent in the very
    # second of the restart could be replayed once; that second is the whole
    # residual window, against the proof lifetime of MAX_AGE_S without it.)
    pipe = get_redis().pipeline(transaction=False)
    pipe.set(EPOCH_KEY, int(time.time()), nx=True)
    pipe.get(EPOCH_KEY)
    pipe.set(f"dpop:jti:{proof.jti}", 1, nx=True, ex=NONCE_TTL_S)
    _, epoch, fresh = pipe.execute()
    if proof.iat < int(epoch):
        raise Unauthorized("DPoP proof predates the nonce store; sign a new one.",
                           reason="proof_stale")
    if not fresh:
        raise Unauthorized("DPoP proof was already used.", reason="proof_replayed")
    return proof


def authenticate(roles: Iterable[str] = ()) -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer":
        raise Unauthorized("Tokens are device-bound: use the DPoP scheme with a proof.",
                           reason="wrong_scheme")
    if scheme != "DPoP" or not token:
        raise Unauthorized(reason="no_token")
    try:
        claims = verify_access_token(token.strip())
    except TokenError as exc:
        raise Unauthorized(str(exc), reason="invalid_token") from exc
    proof = check_request_proof(access_token=token.strip())
    if proof.jkt != claims.jkt:
        raise Unauthorized("The proof was signed by another key than the token's.",
                           reason="key_mismatch")
    session = db.session.get(Session, claims.sid, options=_SESSION_LOAD)
    if session is None or session.account_id != claims.sub:
        raise Unauthorized("Session not found.", reason="no_session")
    if session.revoked_at is not None or session.expires_at < utcnow():
        raise Unauthorized("Session has ended.", reason="session_ended")
    if not session.account.active:
        raise Unauthorized("Account is disabled.", reason="account_disabled")
    if session.device.status != "active" or session.device.jkt != claims.jkt:
        raise Unauthorized("Device is revoked.", reason="device_revoked")
    roles = tuple(roles)
    if roles and session.account.role not in roles:
        raise Forbidden("Your role cannot do this.", reason="role")
    principal = Principal(session.account, session.device, session)
    g.principal = principal
    return principal


def current_principal() -> Principal:
    principal = g.get("principal")
    if principal is None:
        raise Unauthorized()
    return principal
