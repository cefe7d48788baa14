"""Authenticating a request: device-bound token + proof + single-use nonce.

The proof is a DPoP proof signed by the device key, or, once the device is
charged, a session proof MACed with a key derived from its master key
(shared.proof; server/keys/proof_keys.py finds the key).

A request costs one Redis round trip (one script, nonces.py; sent as the request
arrives, early.py) and no database query: the
proof's jti is burned, the nonce store's epoch read and the caller's session,
account and device validity read together (validity.py explains the mirror
and why a revocation holds on the next request in every process). Only when
the mirror is incomplete (first request of a login, Redis flushed) is the
database asked, and the mirror repopulated from it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from flask import g, request
from sqlalchemy.orm import joinedload

from server.api.errors import Forbidden, Unauthorized
from server.dbtypes import utcnow
from server.extensions import db
from server.identity import early, validity
from server.identity.models import Account, Device, Session
from server.identity.tokens import AccessClaims, TokenError, verify_access_token
from shared.proof import (
    ProofError,
    ReadProof,
    SessionKeyLookup,
    VerifiedProof,
    normalize_htu,
    read_proof,
    sealed_body_binding,
    verify_proof,
)

# Built once: constructing loader options costs more than the query cache saves.
_SESSION_LOAD = [joinedload(Session.account), joinedload(Session.device)]


class Principal:
    """The caller. Ids and role come with authentication; the rows load on first
    touch, so a route that needs only ids costs no query."""

    __slots__ = ("_account", "_device", "_session", "account_id", "device_id",
                 "jurisdiction_id", "role", "session_id")

    def __init__(self, valid: validity.Valid, account: Account | None = None,
                 device: Device | None = None, session: Session | None = None) -> None:
        self.account_id, self.device_id = valid.account_id, valid.device_id
        self.session_id, self.role = valid.session_id, valid.role
        self.jurisdiction_id = valid.jurisdiction_id
        self._account, self._device, self._session = account, device, session

    @property
    def account(self) -> Account:
        if self._account is None:
            self._account = _row(Account, self.account_id)
        return self._account

    @property
    def device(self) -> Device:
        if self._device is None:
            self._device = _row(Device, self.device_id)
        return self._device

    @property
    def session(self) -> Session:
        if self._session is None:
            self._session = _row(Session, self.session_id)
        return self._session


def _row(model: Any, key: str) -> Any:
    row = db.session.get(model, key)
    if row is None:  # deleted since the mirror was written
        raise Unauthorized("Session not found.", reason="no_session")
    return row


# A host and path that werkzeug's request.url would neither quote nor unquote
# (no %, no space, ASCII, no IDNA label, a plain port): the common case.
_PLAIN_HOST = re.compile(r"(?!.*xn--)[a-z0-9.-]+(:[1-9][0-9]{0,4})?", re.IGNORECASE)
_PLAIN_PATH = re.compile(r"[A-Za-z0-9\-._~/!$&'()*+,;=:@]*")


def request_htu() -> str:
    """normalize_htu(request.url), without rebuilding the URL when nothing in it needs
    it: request.url quotes the path and then parses and unquotes the whole URL again
    (uri_to_iri), which cost as much as the rest of the proof's claim checks.
    tests/identity/test_request_htu.py holds both to the same answers."""
    host, root, path = request.host, request.root_path, request.path
    plain = _PLAIN_HOST.fullmatch(host)
    if plain and int(plain.group(1)[1:] if plain.group(1) else 0) <= 65535 \
            and _PLAIN_PATH.fullmatch(root) and _PLAIN_PATH.fullmatch(path):
        return f"{request.scheme.lower()}://{host.lower()}{root.rstrip('/')}/{path.lstrip('/')}"
    return normalize_htu(request.url)


def _verify(access_token: str | None, session_id: str | None = None,
            sealed_body: bool = False, read: ReadProof | None = None) -> VerifiedProof:
    """The request's proof: signed by the device key, or (with a session's access
    token) MACed with the session's proof key (shared.proof, server/keys/proof_keys.py).
    A sealed body is bound by its AEAD tag (shared.proof.sealed_body_binding)."""
    env = request.environ
    # A request with neither length nor chunking has no body (RFC 9112 §6.3): a GET
    # need not build werkzeug's input stream to learn that it is empty.
    body = request.get_data(cache=True) if env.get("CONTENT_LENGTH") \
        or env.get("HTTP_TRANSFER_ENCODING") else b""
    lookup = None if session_id is None else _session_keys(session_id)
    try:
        return verify_proof(read or env.get("HTTP_DPOP", ""), env["REQUEST_METHOD"],
                            request_htu(),
                            sealed_body_binding(body) if sealed_body else body,
                            access_token=access_token, session_key=lookup,
                            url_is_htu=True)
    except ProofError as exc:
        raise Unauthorized(str(exc), reason=getattr(exc, "reason", "invalid_proof")) from exc


def _session_keys(session_id: str) -> SessionKeyLookup:
    def lookup(alg: str, kid: str) -> bytes:
        from server.keys import proof_keys  # keys depends on identity, not back

        return proof_keys.lookup(session_id, alg, kid)

    return lookup


def _judge_burn(proof: VerifiedProof, epoch: bytes, fresh: bool) -> None:
    """A Redis that restarted or was flushed has forgotten which jtis were used, so
    it starts a new epoch and every proof signed in an earlier second is refused:
    the phone signs a fresh one. (iat has one-second resolution: a proof signed
    and spent in the very second of the restart could be replayed once; that
    second is the whole residual window, against MAX_AGE_S without it.)"""
    if proof.iat < int(epoch):
        raise Unauthorized("DPoP proof predates the nonce store; sign a new one.",
                           reason="proof_stale")
    if not fresh:
        raise Unauthorized("DPoP proof was already used.", reason="proof_replayed")


def check_request_proof(access_token: str | None = None) -> VerifiedProof:
    """Verify the DPoP header of this request and burn its jti."""
    proof = _verify(access_token)
    epoch, fresh, _ = early.claim(proof.jti, []).reply()
    _judge_burn(proof, epoch, fresh)
    return proof


def authenticate(roles: Iterable[str] = (), sealed_body: bool = False) -> Principal:
    """The caller, or Unauthorized/Forbidden. `sealed_body`: the route authenticates its
    body as an AEAD ciphertext under a key only the device and the server hold, before
    it stores anything (Blueprint.auth_required says more), so the proof binds the
    body's tag, not all its bytes (shared.proof, bh)."""
    env = request.environ  # headers read from it: each request.* costs a proxy lookup
    scheme, _, token = env.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() == "bearer":
        raise Unauthorized("Tokens are device-bound: use the DPoP scheme with a proof.",
                           reason="wrong_scheme")
    token = token.strip()
    if scheme != "DPoP" or not token:
        raise Unauthorized(reason="no_token")
    try:
        claims = verify_access_token(token, early.early_claims(token))
    except TokenError as exc:
        raise Unauthorized(str(exc), reason="invalid_token") from exc
    proof_text = env.get("HTTP_DPOP", "")
    try:
        read = early.early_proof(proof_text) or read_proof(proof_text)
    except ProofError as exc:
        raise Unauthorized(str(exc), reason="invalid_proof") from exc
    # The round trip is sent first (early.py: usually as the request arrived) and
    # read after the proof's check (nonces.py).
    burn = early.claim(read.jti, validity.keys(claims.sid, claims.sub, claims.jkt))
    try:
        proof = _verify(token, claims.sid, sealed_body, read)
    finally:
        epoch, fresh, values = burn.reply()
    if not proof.session and proof.jkt != claims.jkt:
        raise Unauthorized("The proof was signed by another key than the token's.",
                           reason="key_mismatch")
    _judge_burn(proof, epoch, fresh)
    try:
        valid = validity.judge(values, epoch, claims.sid, claims.sub, claims.jkt)
    except validity.Refused as refused:
        raise _refusal(refused.reason) from None
    principal = Principal(valid) if valid is not None else _from_database(claims, epoch)
    roles = tuple(roles)
    if roles and principal.role not in roles:
        raise Forbidden("Your role cannot do this.", reason="role")
    g.principal = principal
    return principal


def _from_database(claims: AccessClaims, epoch: bytes) -> Principal:
    """The mirror is incomplete: the database decides, and the mirror learns it."""
    session = db.session.get(Session, claims.sid, options=_SESSION_LOAD)
    if session is None or session.account_id != claims.sub:
        raise _refusal("no_session")
    if session.revoked_at is not None or session.expires_at < utcnow():
        validity.revoke(sessions=[session.id])
        raise _refusal("session_ended")
    if not session.account.active:
        validity.revoke(accounts=[session.account_id])
        raise _refusal("account_disabled")
    if session.device.status != "active":
        validity.revoke(device_jkts=[session.device.jkt])
        raise _refusal("device_revoked")
    if session.device.jkt != claims.jkt:
        raise _refusal("device_revoked")
    valid = validity.Valid(session.account_id, session.device_id, session.id,
                           session.account.role, session.account.jurisdiction_id)
    validity.remember(epoch, valid, claims.jkt, session.expires_at.timestamp())
    return Principal(valid, session.account, session.device, session)


_MESSAGES = {
    "no_session": "Session not found.",
    "session_ended": "Session has ended.",
    "account_disabled": "Account is disabled.",
    "device_revoked": "Device is revoked.",
}


def _refusal(reason: str) -> Unauthorized:
    return Unauthorized(_MESSAGES[reason], reason=reason)


def current_principal() -> Principal:
    principal = g.get("principal")
    if principal is None:
        raise Unauthorized()
    return principal
