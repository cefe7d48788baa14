"""The embedded database's journal: write-ahead log, synced on every commit.

SQLite's default rollback journal costs several fsyncs per commit (journal, database,
directory); WAL with synchronous=FULL costs one and keeps every committed transaction
across a power cut (NORMAL could lose the last ones, and an acknowledged check-in must
not be lost). Readers no longer wait for the writer either: the dev server's threads
and the worker share the file. PostgreSQL connections are left alone.

Foreign-key enforcement stays off as SQLite ships it: Alembic's batch migrations copy
and drop tables, which with enforcement on would cascade into child rows.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine


@event.listens_for(Engine, "connect")
def _journal(dbapi_connection: Any, _record: Any) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()
