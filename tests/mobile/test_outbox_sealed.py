"""A lost phone's outbox exposes nothing: bodies, staged fixes and server answers are
sealed at rest, bound to their rows, and unreadable without the key store."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mobile.core.keystore import FileKeyProtector, KeyStore
from mobile.core.outbox import Outbox, Outcome
from mobile.core.sealed import SealError
from mobile.ui.core_wiring import AppCore

KEY = bytes(range(32))
SECRET_PLACE = "北海市海城区东街12号"  # what a queued check-in would reveal
SECRET_ANSWER = "case-1187-decision"


def _on_disk(folder: Path) -> bytes:
    """Every byte SQLite keeps for the outbox: the database, its WAL and shared memory."""
    return b"".join(p.read_bytes() for p in folder.glob("outbox.sqlite*"))


def _fill(box: Outbox) -> str:
    item = box.enqueue("checkin", "POST", "/api/supervision/checkins",
                       {"place": SECRET_PLACE, "lat": 21.4812345},
                       capture_time=datetime.now(UTC))
    box.stage("fixes", {"lat": 21.4898765, "note": SECRET_PLACE})
    box.deliver_due(lambda _: Outcome.delivered({"answer": SECRET_ANSWER}))
    return item


def test_nothing_a_person_did_is_readable_on_disk(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox.sqlite", KEY)
    item = _fill(box)
    raw = _on_disk(tmp_path)
    for secret in (SECRET_PLACE.encode(), b"21.48", SECRET_ANSWER.encode()):
        assert secret not in raw
    # ... while the app reads everything back.
    assert box.get(item).json()["place"] == SECRET_PLACE
    assert box.get(item).server_response == {"answer": SECRET_ANSWER}
    assert box.staged("fixes")[0].body["note"] == SECRET_PLACE
    box.close()


def test_without_the_key_nothing_opens(tmp_path: Path) -> None:
    with Outbox(tmp_path / "outbox.sqlite", KEY) as box:
        item = _fill(box)
    with Outbox(tmp_path / "outbox.sqlite", bytes(32)) as stranger, \
            pytest.raises(SealError):
        stranger.get(item)


def test_a_body_moved_to_another_row_does_not_open(tmp_path: Path) -> None:
    with Outbox(tmp_path / "outbox.sqlite", KEY) as box:
        first = box.enqueue("generic", "POST", "/a", {"n": 1}, capture_time=datetime.now(UTC))
        second = box.enqueue("generic", "POST", "/b", {"n": 2}, capture_time=datetime.now(UTC))
    db = sqlite3.connect(tmp_path / "outbox.sqlite")
    body = db.execute("SELECT body FROM outbox WHERE id=?", (first,)).fetchone()[0]
    db.execute("UPDATE outbox SET body=? WHERE id=?", (body, second))
    db.commit()
    db.close()
    with Outbox(tmp_path / "outbox.sqlite", KEY) as box, pytest.raises(SealError):
        box.get(second)


def test_rows_an_older_version_wrote_in_the_clear_are_sealed_at_start(tmp_path: Path) -> None:
    with Outbox(tmp_path / "outbox.sqlite", KEY) as box:
        item = box.enqueue("generic", "POST", "/a", {"n": 1}, capture_time=datetime.now(UTC))
    db = sqlite3.connect(tmp_path / "outbox.sqlite")
    db.execute("UPDATE outbox SET body=?, server_response=? WHERE id=?",
               (f'{{"place":"{SECRET_PLACE}"}}'.encode(), '{"old":true}', item))
    db.execute("INSERT INTO staged (stream, body, staged_at) VALUES ('fixes', ?, 0)",
               (f'{{"note":"{SECRET_PLACE}"}}'.encode(),))
    db.commit()
    db.close()
    assert SECRET_PLACE.encode() in _on_disk(tmp_path)
    with Outbox(tmp_path / "outbox.sqlite", KEY) as box:
        assert box.get(item).json() == {"place": SECRET_PLACE}
        assert box.get(item).server_response == {"old": True}
        assert box.staged("fixes")[0].body == {"note": SECRET_PLACE}
    sqlite3.connect(tmp_path / "outbox.sqlite").execute("VACUUM").connection.close()
    assert SECRET_PLACE.encode() not in _on_disk(tmp_path)


def test_the_apps_outbox_is_sealed_with_the_key_stores_key(tmp_path: Path) -> None:
    core = AppCore.open("http://127.0.0.1:9", tmp_path / "profile")
    _fill(core.outbox)
    core.close()
    assert SECRET_PLACE.encode() not in _on_disk(tmp_path / "profile")
    store = KeyStore.open(tmp_path / "profile" / "keystore.json",
                          FileKeyProtector(tmp_path / "profile" / "device.key"))
    key = store.outbox_key()
    assert len(key) == 32 and key not in _on_disk(tmp_path / "profile")
    again = AppCore.open("http://127.0.0.1:9", tmp_path / "profile")  # same key, reopened
    assert [i.json()["place"] for i in again.outbox.of_kind("checkin")] == [SECRET_PLACE]
    again.close()
