"""Writing a judged ping batch: its idempotency record (the answer, see
server/api/idempotency.py), the batch, its fixes, and the case's new running
state, in the caller's transaction.

On PostgreSQL the four writes go to the server in one psycopg pipeline, a
single round trip, from the session's own connection: ingest runs ~170 batches
a second province-wide, and each extra round trip under load was worth more
than all the judging. The fixes take their batch's id from the sequence, so
nothing waits for the id. The record and batch inserts do nothing on a key
already taken (a concurrent delivery that Redis's lock did not stop); the caller
then rolls everything back and answers as for a replay. Elsewhere (SQLite) the
same writes go through SQLAlchemy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.errors import UniqueViolation
from psycopg.types.json import Json
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm.attributes import flag_modified

from server.api.idempotency import IdempotencyRecord
from server.extensions import db
from server.supervision.fixes import COLUMNS, row_dict
from server.supervision.models_activity import CaseState, Location, PingBatch

STATE = ("last_fix_at", "last_lat", "last_lon", "last_accuracy_m", "repeat_count", "zones",
         "newest_fix_at", "track_lat", "track_lon", "track_at", "last_received_at",
         "updated_at")
# Constant SQL built from the names above: nothing from a request is spliced in.
_KEY = ("INSERT INTO idempotency_keys (account_id, endpoint, key, fingerprint, status, body, "
        "created_at) VALUES (%s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (account_id, endpoint, key) DO NOTHING RETURNING id")
_BATCH = ("INSERT INTO sup_ping_batches (case_id, batch_key, device_id, received_at) "
          "VALUES (%s, %s, %s, %s) ON CONFLICT (case_id, batch_key) DO NOTHING RETURNING id")
# The batch's id is the value its INSERT just drew from the SERIAL's sequence (drawn
# even when the key conflicts; then everything is rolled back anyway): currval of
# that sequence, in this session, names it without waiting for the INSERT's answer.
# No ON CONFLICT: a fix id clash is an error of the pipeline (rare, see write()).
_FIXES = (f"INSERT INTO sup_locations ({', '.join(COLUMNS)}, batch_id) "  # noqa: S608
          f"VALUES ({', '.join(['%s'] * len(COLUMNS))}, currval('sup_ping_batches_id_seq'))")
STORED, KEY_TAKEN, ID_CLASH = "stored", "key_taken", "id_clash"
_STATE = (f"UPDATE sup_case_state SET {', '.join(f'{c} = %s' for c in STATE)} "  # noqa: S608
          "WHERE case_id = %s")


@dataclass(frozen=True)
class Batch:
    case_id: int
    key: str
    device_id: str | None
    received_at: datetime
    answer: dict[str, Any]  # the idempotency record's columns (Attempt.values)


def write(state: CaseState, batch: Batch, rows: list[tuple[Any, ...]],
          changes: dict[str, Any]) -> str:
    """STORED; KEY_TAKEN (a replay: the caller rolls back and answers as stored); or
    ID_CLASH: a fix reused the id of a stored fix that ingest did not look up (it
    only looks up fixes no later than the newest stored, where resends are), so
    the caller rolls back and judges the batch again with every id looked up."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        return _write_pipelined(connection, batch, rows, changes)
    return _write_portable(state, batch, rows, changes)


def _write_pipelined(connection: Any, batch: Batch, rows: list[tuple[Any, ...]],
                     changes: dict[str, Any]) -> str:
    raw = connection.connection.driver_connection  # psycopg.Connection, in our transaction
    values = {**changes, "zones": Json(changes["zones"])}
    try:
        with raw.pipeline() as pipeline, raw.cursor() as key, raw.cursor() as head, \
                raw.cursor() as body:
            a = batch.answer
            key.execute(_KEY, (a["account_id"], a["endpoint"], a["key"], a["fingerprint"],
                               a["status"], Json(a["body"]), a["created_at"]))
            head.execute(_BATCH, (batch.case_id, batch.key, batch.device_id,
                                  batch.received_at))
            if rows:
                body.executemany(_FIXES, rows)
            body.execute(_STATE, (*(values[c] for c in STATE), batch.case_id))
            pipeline.sync()
            taken = key.fetchone() is None
            return KEY_TAKEN if head.fetchone() is None or taken else STORED
    except UniqueViolation:
        # A replay's fixes were all found as duplicates, so a unique violation here is
        # a fix id reused for a newer fix: the caller rolls back and looks them all up.
        return ID_CLASH


def _write_portable(state: CaseState, batch: Batch, rows: list[tuple[Any, ...]],
                    changes: dict[str, Any]) -> str:
    records = IdempotencyRecord.__table__
    recorded = db.session.execute(
        sqlite_insert(records).values(**batch.answer)
        .on_conflict_do_nothing(index_elements=["account_id", "endpoint", "key"])
        .returning(records.c.id)).scalar()
    table = PingBatch.__table__
    batch_id = db.session.execute(
        sqlite_insert(table).values(case_id=batch.case_id, batch_key=batch.key,
                                    device_id=batch.device_id, received_at=batch.received_at)
        .on_conflict_do_nothing(index_elements=["case_id", "batch_key"])
        .returning(table.c.id)).scalar()
    if recorded is None or batch_id is None:
        return KEY_TAKEN
    if rows:
        done = db.session.execute(
            sqlite_insert(Location.__table__).on_conflict_do_nothing(
                index_elements=["case_id", "client_id"]),
            [{**row_dict(r), "batch_id": batch_id} for r in rows])
        if done.rowcount != len(rows):  # type: ignore[attr-defined]
            return ID_CLASH
    for name in STATE:
        setattr(state, name, changes[name])
    flag_modified(state, "zones")
    return STORED
