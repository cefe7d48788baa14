"""Driving supervision the way the phones and the officers' PC do, with time injected."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask

from tests.support import Phone

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOME = (21.4800, 109.1200)  # Beihai, Guangxi
CITY_RADIUS_M = 2000.0


def local(text: str) -> datetime:
    """'2026-12-01 08:30' in Asia/Shanghai, as an aware UTC datetime."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=SHANGHAI).astimezone(UTC)


def north(metres: float, origin: tuple[float, float] = HOME) -> tuple[float, float]:
    return origin[0] + metres / 111_195.0, origin[1]


def new_id() -> str:
    return uuid.uuid4().hex


class Clock:
    """The supervision clock, moved by hand."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def set(self, text: str) -> datetime:
        self.at = local(text)
        return self.at

    def advance(self, **delta: float) -> datetime:
        self.at += timedelta(**delta)
        return self.at


def account_id(app: Flask, username: str) -> str:
    from server.extensions import db
    from server.identity.models import Account

    with app.app_context():
        return db.session.scalar(db.select(Account.id).where(Account.username == username))


def fix(lat: float, lon: float, at: datetime, **extra: Any) -> dict[str, Any]:
    body = {"id": new_id(), "lat": lat, "lon": lon, "captured_at": at.isoformat(),
            "accuracy_m": 8.0}
    body.update(extra)
    return body


@dataclass
class World:
    app: Flask
    clock: Clock
    officer: Phone
    subject: Phone
    case_id: int
    zone_ids: dict[str, int] = field(default_factory=dict)

    def pings(self, fixes: list[dict[str, Any]], batch_id: str | None = None,
              case_id: int | None = None, phone: Phone | None = None) -> Any:
        return (phone or self.subject).post("/api/supervision/locations", {
            "case_id": case_id or self.case_id, "batch_id": batch_id or new_id(),
            "fixes": fixes})

    def walk(self, points: list[tuple[float, float]], start: datetime,
             step: timedelta = timedelta(minutes=1)) -> Any:
        """Send fixes a `step` apart; delivered just after the last one was taken."""
        last = start + (len(points) - 1) * step
        self.clock.at = max(self.clock.at, last + timedelta(seconds=30))
        response = self.pings([fix(lat, lon, start + i * step)
                               for i, (lat, lon) in enumerate(points)])
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def sweep(self, at: datetime | None = None) -> Any:
        from server.supervision import tasks

        with self.app.app_context():
            return tasks.run_once(at or self.clock.at)

    def sweep_all(self, at: datetime | None = None) -> int:
        """Sweep until nothing is due (a handler may queue work that is due already)."""
        handled = 0
        for _ in range(50):
            report = self.sweep(at)
            handled += report.handled
            if not report.popped:
                return handled
        raise AssertionError("the sweep never ran dry")

    def alerts(self, **query: Any) -> list[dict[str, Any]]:
        qs = "&".join(f"{k}={v}" for k, v in {"page_size": 100, **query}.items())
        response = self.officer.get(f"/api/supervision/alerts?{qs}")
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def rule(self, **body: Any) -> dict[str, Any]:
        response = self.officer.post(f"/api/supervision/cases/{self.case_id}/rules", body)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def zone(self, **body: Any) -> dict[str, Any]:
        response = self.officer.post(f"/api/supervision/cases/{self.case_id}/zones", body)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def notices(self, phone: Phone | None = None) -> list[dict[str, Any]]:
        response = (phone or self.subject).get("/api/supervision/notices?page_size=100")
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def case(self, phone: Phone | None = None) -> dict[str, Any]:
        response = (phone or self.officer).get(
            f"/api/supervision/cases/{self.case_id}?purpose=supervision+review")
        assert response.status_code == 200, response.get_json()
        return response.get_json()
