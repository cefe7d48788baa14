"""Idempotent POSTs: the one mechanism behind every endpoint that takes an idempotency key.

It follows the IETF draft "The Idempotency-Key HTTP Header Field"
(draft-ietf-httpapi-idempotency-key-header-07, Jena & Dalal):

- The key (section 2.1) is the `Idempotency-Key` request header, an sf-string; the
  quotes may be left off (the phone's outbox sends the bare id). More than one such
  header, or a key outside 1-64 of ``A-Z a-z 0-9 _ . : ~ -``, is a 400. Endpoints of
  the phone protocol name a body field that is the key too (a check-in's `id`, a
  batch's `batch_id`): without the header that field is the key, and a header that
  disagrees with it is a 400, so both ways of sending name one record.
- Uniqueness (2.2, and the composite key of the Security Considerations): keys are
  scoped by account + endpoint; one account can neither read nor block another's.
- The fingerprint (2.4) is the SHA-256 of the exact request body: the outbox resends
  the bytes it stored.
- Enforcement (2.6) and errors (2.7). First delivery: the view runs, and its service
  adds the answer (status code + body) with `record()` (or writes `Attempt.values()`
  itself) in the SAME transaction as the effect, before its commit. So an
  acknowledged request is never executed again, and one that did not commit leaves
  nothing behind and runs afresh when retried. Same key, same fingerprint: the stored
  answer, status code and body, failures included (a stored 422 comes back a 422),
  marked `Idempotent-Replayed: true`. Same key, other fingerprint: 422, reason
  `idempotency_key_reused`. Same key while the first delivery is still running: 409,
  reason `request_in_flight`, with `Retry-After`.
- Expiry (2.3): none; a record lives as long as the effect it answers for.

"Still running" is a Redis lock (SET NX with a TTL) taken before the look-up and
released after the view returned, i.e. after the commit. Redis is only the fast path:
after a Redis loss two deliveries of one key can both run, and the unique constraint
on (account, endpoint, key) is the backstop. The later insert fails (IntegrityError,
or `KeyTaken` from a writer that inserts with ON CONFLICT DO NOTHING), its whole
transaction is rolled back, and it answers as a replay of the winner (409 if the
winner's record is not visible, 422 if the payloads differ): never a 500, never twice.
A delivery that fails before recording anything (bad input, a challenge not yet
decided) also looks again: if another delivery of its key committed meanwhile, that
answer is the answer.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import flask_smorest
from flask import g, has_request_context, jsonify, request
from redis.exceptions import RedisError
from sqlalchemy import JSON, BigInteger, Integer, String, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from server.api.errors import ApiError, BadRequest, Conflict, Unprocessable
from server.dbtypes import IdColumn, UTCDateTime, utcnow
from server.extensions import db, get_redis

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
# Longer than any idempotent request takes; short, because a SIGKILLed worker's
# lock stays until it lapses (the database is the backstop meanwhile anyway).
LOCK_TTL_S = 10
RETRY_AFTER_S = 1
_KEY = re.compile(r"[A-Za-z0-9_.:~-]{1,64}")
# Delete the lock only if it is still ours (it may have lapsed and been retaken).
_RELEASE = ("if redis.call('get', KEYS[1]) == ARGV[1] then "
            "return redis.call('del', KEYS[1]) end return 0")
_BigId = BigInteger().with_variant(Integer(), "sqlite")


class IdempotencyRecord(db.Model):  # type: ignore[name-defined]
    """The first answer given under a key. An HTTP answer, so it lives with the API."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("account_id", "endpoint", "key",
                                       name="uq_idempotency_keys_scope"),)

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    account_id: Mapped[str] = mapped_column(IdColumn)
    endpoint: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(64))
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 hex of the body
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class KeyTaken(Exception):  # noqa: N818 - a signal, not a failure to report
    """A writer's ON CONFLICT DO NOTHING found the key recorded: it rolled back."""


@dataclass
class Attempt:
    """One delivery under a key, as the service sees it."""

    account_id: str
    endpoint: str
    key: str
    fingerprint: str
    recorded: bool = False

    def values(self, status: int, body: dict[str, Any]) -> dict[str, Any]:
        """The record's columns, for writers that insert it themselves."""
        self.recorded = True
        return {"account_id": self.account_id, "endpoint": self.endpoint, "key": self.key,
                "fingerprint": self.fingerprint, "status": status, "body": body,
                "created_at": utcnow()}

    def record(self, status: int, body: dict[str, Any]) -> None:
        db.session.add(IdempotencyRecord(**self.values(status, body)))


def active() -> Attempt | None:
    """The attempt of the idempotent request being served, if any."""
    return g.get("idempotency") if has_request_context() else None


def record(status: int, body: dict[str, Any]) -> None:
    """Services call this before committing their effect (outside an idempotent
    request, e.g. from a script, there is nothing to record)."""
    attempt = active()
    if attempt is not None:
        attempt.record(status, body)


def fingerprint(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def idempotent(blp: flask_smorest.Blueprint, endpoint: str, body_key: str | None = None,
               ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Serve a view under the mechanism above. Goes below @blp.response, so the
    view receives the parsed body and replays are serialised as first answers were."""
    from server.identity.authn import current_principal  # avoid an import cycle

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(data: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
            attempt = Attempt(current_principal().account_id, endpoint,
                              _key(data, body_key), fingerprint(request.get_data(cache=True)))
            lock = _Lock(attempt)
            if not lock.acquire():
                return _answer_stored(attempt)
            try:
                stored = _lookup(attempt)
                if stored is not None:
                    return _replay(stored, attempt)
                g.idempotency = attempt
                try:
                    answer = view(data, *args, **kwargs)
                except (IntegrityError, KeyTaken):
                    db.session.rollback()
                    return _answer_stored(attempt)
                except ApiError:
                    if attempt.recorded:
                        raise  # the service committed this failure as the answer
                    db.session.rollback()
                    stored = _lookup(attempt)
                    if stored is None:
                        raise
                    return _replay(stored, attempt)
                finally:
                    g.pop("idempotency", None)
                if not attempt.recorded:
                    log.error("%s answered without recording its answer", endpoint)
                return answer
            finally:
                lock.release()

        wrapper = blp.doc(parameters=[{
            "in": "header", "name": HEADER, "required": False, "schema": {"type": "string"},
            "description": "Idempotency key (IETF draft); "
                           + (f"must equal the body's `{body_key}`" if body_key else "required"),
        }])(wrapper)
        wrapper = blp.alt_response(400, description="Idempotency-Key missing or invalid",
                                   schema=flask_smorest.error_handler.ErrorSchema)(wrapper)
        return blp.alt_response(409, description="The same key is still being processed",
                                schema=flask_smorest.error_handler.ErrorSchema)(wrapper)

    return decorator


def _key(data: dict[str, Any], body_key: str | None) -> str:
    sent = request.headers.getlist(HEADER)
    if len(sent) > 1:
        raise BadRequest(f"Send one {HEADER} header.", reason="idempotency_key_invalid")
    header = _parse(sent[0]) if sent else None
    body = data.get(body_key) if body_key else None
    if header is not None and body is not None and header != body:
        raise BadRequest(f"The {HEADER} header must equal the body's {body_key}.",
                         reason="idempotency_key_mismatch")
    key = header or body
    if not key:
        raise BadRequest(f"This operation needs an {HEADER} header.",
                         reason="idempotency_key_missing")
    return str(key)


def _parse(raw: str) -> str:
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]  # an sf-string
    if not _KEY.fullmatch(value):
        raise BadRequest(f"{HEADER}: 1-64 of A-Z a-z 0-9 _ . : ~ -",
                         reason="idempotency_key_invalid")
    return value


def _lookup(attempt: Attempt) -> IdempotencyRecord | None:
    return db.session.scalar(select(IdempotencyRecord).where(
        IdempotencyRecord.account_id == attempt.account_id,
        IdempotencyRecord.endpoint == attempt.endpoint, IdempotencyRecord.key == attempt.key))


def _answer_stored(attempt: Attempt) -> Any:
    """Another delivery of the key holds it: its answer if committed, else a 409."""
    stored = _lookup(attempt)
    if stored is None:
        raise Conflict("A request with this idempotency key is still being processed; "
                       "send it again shortly.", reason="request_in_flight",
                       headers={"Retry-After": str(RETRY_AFTER_S)})
    return _replay(stored, attempt)


def _replay(stored: IdempotencyRecord, attempt: Attempt) -> Any:
    if stored.fingerprint != attempt.fingerprint:
        raise Unprocessable("This idempotency key was used for a different request.",
                            reason="idempotency_key_reused")
    headers = {REPLAYED: "true"}
    if stored.status >= 400:  # an error envelope, not the view's schema
        response = jsonify(stored.body)
        response.status_code = stored.status
        response.headers.update(headers)
        return response
    return stored.body, stored.status, headers


class _Lock:
    def __init__(self, attempt: Attempt) -> None:
        self.name = f"idem:{attempt.account_id}:{attempt.endpoint}:{attempt.key}"
        self.token: str | None = None

    def acquire(self) -> bool:
        token = secrets.token_hex(8)
        try:
            taken = get_redis().set(self.name, token, nx=True, ex=LOCK_TTL_S)
        except RedisError as exc:  # the database's unique key still holds
            log.warning("idempotency lock unavailable (%s): relying on the database",
                        type(exc).__name__)
            return True
        if taken:
            self.token = token
        return bool(taken)

    def release(self) -> None:
        if self.token is None:
            return
        with contextlib.suppress(RedisError):  # if not, it lapses by itself
            get_redis().register_script(_RELEASE)(keys=[self.name], args=[self.token])
