"""Notices: the phone polls these (reminders, random checks, court dates, travel
decisions, warnings to correct); officers get escalations the same way.

`dedupe_key` makes every notice at-most-once per account, whichever worker or
retry writes it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from server.api.errors import NotFound
from server.extensions import db
from server.identity.models import Account
from server.supervision.models_alerts import Notice


def notify(account_id: str, kind: str, title: str, dedupe_key: str, *, body: str = "",
           data: dict[str, Any] | None = None, case_id: int | None = None,
           now: datetime) -> bool:
    """Inside the caller's transaction; False when this notice was already given."""
    if db.session.scalar(select(Notice.id).where(Notice.account_id == account_id,
                                                 Notice.dedupe_key == dedupe_key)):
        return False
    try:
        with db.session.begin_nested():
            db.session.add(Notice(account_id=account_id, kind=kind, title=title, body=body,
                                  data=data or {}, dedupe_key=dedupe_key, case_id=case_id,
                                  created_at=now))
    except IntegrityError:
        return False  # a concurrent writer gave it first
    return True


def list_notices(actor: Account, unread_only: bool) -> Any:
    stmt = select(Notice).where(Notice.account_id == actor.id)
    if unread_only:
        stmt = stmt.where(Notice.read_at.is_(None))
    return stmt.order_by(Notice.id.desc())


def mark_read(actor: Account, notice_id: int, now: datetime) -> Notice:
    notice = db.session.get(Notice, notice_id)
    if notice is None or notice.account_id != actor.id:
        raise NotFound("Not found.")
    if notice.read_at is None:
        notice.read_at = now
        db.session.commit()
    return notice
