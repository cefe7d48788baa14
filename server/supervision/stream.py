"""The officers' live alert feed as server-sent events.

Each connection polls the alert events table (any process may have written
them) and lives `stream_seconds`; the browser's EventSource reconnects by
itself with Last-Event-ID and the feed resumes after that id. Polling the
database keeps every API node stateless: no pub-sub subscription to lose.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

from server.audit.service import record
from server.extensions import db
from server.identity import policy
from server.identity.models import Account
from server.supervision.alert_actions import events_after, last_event_id
from server.supervision.config import settings


def open_feed(actor: Account, after: int | None) -> tuple[str, int]:
    """Check access, audit the subscription; the subtree to watch and where to start.
    The generator gets plain values: it outlives the request's database session."""
    policy.authorize(actor, "supervision.case.read")
    start = last_event_id() if after is None else after
    path = actor.jurisdiction.path
    record("supervision.alert.stream", target_type="sup_alert", purpose="live alert feed",
           details={"after": start})
    db.session.commit()
    return path, start


def events(subtree_path: str, after: int) -> Iterator[str]:
    s = settings()
    deadline = time.monotonic() + s.stream_seconds
    cursor = after
    yield "retry: 3000\n\n"
    while True:
        for event in events_after(subtree_path, cursor):
            cursor = event.id
            payload = {"alert_id": event.alert_id, "case_id": event.case_id,
                       "kind": event.kind, "at": event.at.isoformat(), **event.detail}
            yield f"id: {event.id}\nevent: alert\ndata: {json.dumps(payload)}\n\n"
        db.session.rollback()  # end the snapshot, so the next poll sees new rows
        if time.monotonic() >= deadline:
            return
        yield ": keep-alive\n\n"
        time.sleep(s.stream_poll_s)
