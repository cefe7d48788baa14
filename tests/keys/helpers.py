"""Key-service test helpers: charge a phone as the phone does, scan what is at rest."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select, text

from server.audit.models import AuditEntry
from server.extensions import db
from shared.b64 import b64url_decode, b64url_encode
from shared.kex import ChargeResponse, DeviceKeyPair, device_complete
from tests.support import Phone


def charge(phone: Phone, profile: str, pair: DeviceKeyPair | None = None
           ) -> tuple[bytes, dict[str, Any]]:
    """Key charging through the API; the master key the phone derives, and the body."""
    pair = pair or DeviceKeyPair.generate()
    response = phone.post("/api/devices/keys", {"x25519_pub": b64url_encode(pair.x_pub),
                                                "mlkem768_pub": b64url_encode(pair.mlkem_pub)})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert phone.device_id is not None
    master = device_complete(pair, phone.device_id, ChargeResponse(
        b64url_decode(body["eph_x_pub"]), b64url_decode(body["ct"])), profile)
    return master, body


def encodings(secret: bytes | str) -> list[bytes]:
    """The ways a secret could sit in a row or a file: raw, hex, base64, base64url."""
    raw = secret.encode() if isinstance(secret, str) else secret
    forms = [raw, raw.hex().encode(), raw.hex().upper().encode(),
             base64.b64encode(raw).rstrip(b"="), b64url_encode(raw).encode()]
    if isinstance(secret, str):
        forms.append(json.dumps(secret).encode())
    return forms


def _cell_bytes(value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False).encode()
    return str(value).encode()


def rows_containing(app: Flask, secrets_: list[bytes | str]) -> list[str]:
    """table.column of every stored cell holding any encoding of any secret."""
    hits = []
    with app.app_context():
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(select(table)).mappings():
                for column, value in row.items():
                    cell = _cell_bytes(value)
                    if any(form in cell for s in secrets_ for form in encodings(s)):
                        hits.append(f"{table.name}.{column}")
    return hits


def sqlite_file_contains(app: Flask, secrets_: list[bytes | str]) -> bool | None:
    """Whether the SQLite file (and its journal) holds any secret; None on PostgreSQL."""
    with app.app_context():
        url = db.engine.url
        if url.get_backend_name() != "sqlite" or not url.database:
            return None
        db.session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        db.session.commit()
    path = Path(url.database)
    blob = b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-journal"))
                    if p.exists())
    return any(form in blob for s in secrets_ for form in encodings(s))


def audit_actions(app: Flask, prefix: str = "keys.") -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEntry.action)
                                       .where(AuditEntry.action.startswith(prefix))
                                       .order_by(AuditEntry.seq)))
