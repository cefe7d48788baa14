"""The headless core the Kivy app is handed (Electrum-style): no Kivy imports here.

AppCore owns the device key store, the API client, the offline outbox and the sensors.
Its methods block (HTTP, SQLite, scrypt), so the UI calls them through `run_async`.
"""

from __future__ import annotations

import json
import os
import platform as pyplatform
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from mobile.core.client import ApiClient, ApiProblem
from mobile.core.evidence import EvidenceQueue
from mobile.core.keystore import (
    AndroidKeystoreProtector,
    FileKeyProtector,
    KeyProtector,
    KeyStore,
)
from mobile.core.outbox import Item, Outbox, Outcome
from mobile.core.sensors import (
    FolderFrameSource,
    FrameSource,
    LocationProvider,
    default_location_provider,
)
from mobile.core.tracker import LocationTracker, TrackerSettings

FACE_FRAMES = "/api/biometrics/challenges/"  # frames queued with an offline check-in
DECIDING_TRIES, DECIDING_RETRY_S = 3, 10.0
ACCOUNT_CACHE = "account.cache"  # last /api/me answer, so an offline start still knows the role
PAGE_SIZE = 100  # flask-smorest's maximum: fewest round trips


@dataclass(frozen=True)
class PendingItem:
    """What the person did that the server has not acknowledged yet."""

    id: str
    kind: str
    capture_time: datetime
    state: str  # pending | sending | rejected
    last_error: str | None


@dataclass(frozen=True)
class DeliveryResult:
    delivered: int
    waiting: int
    rejected: int
    offline: bool


def _pending(item: Item) -> PendingItem:
    return PendingItem(item.id, item.kind, item.capture_time, item.state, item.last_error)


def _deciding(item: Item, problem: ApiProblem) -> bool:
    """An offline check-in's frames resent while the server still judges the first send
    (nonce_used): once decided, the same frames get the stored decision. A few tries
    only, so frames of a challenge used otherwise cannot hold back later check-ins."""
    return (item.path.startswith(FACE_FRAMES) and problem.status == 409
            and problem.reason == "nonce_used" and item.attempts < DECIDING_TRIES)


class AppCore:
    """Everything the phone knows and does, minus the pixels."""

    def __init__(self, server: str, keystore: KeyStore, outbox: Outbox, profile: Path,
                 platform: str = "linux", location: LocationProvider | None = None,
                 frames: FrameSource | None = None) -> None:
        self.server, self.profile, self.platform = server.rstrip("/"), profile, platform
        self.keystore, self.outbox = keystore, outbox
        self.client = ApiClient(self.server, keystore.ed25519_key(), keystore)
        # Photos and documents sealed at capture wait here (ciphertext only).
        self.evidence = EvidenceQueue(profile / "evidence", self.client)
        self.location, self.frames = location, frames
        self.tracker: LocationTracker | None = None
        self._prefs_lock = threading.Lock()

    @classmethod
    def open(cls, server: str, profile: str | os.PathLike[str], platform: str = "linux",
             gpx: str | None = None, frames_dir: str | None = None) -> AppCore:
        """Open (or create) the profile: key store, outbox and sensors for this platform."""
        folder = Path(profile)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        # On a phone the key-encryption key never leaves the Android Keystore; a desktop
        # tester profile keeps it in a side file (weaker, and said so in keystore.py).
        protector: KeyProtector = (AndroidKeystoreProtector() if platform == "android"
                                   else FileKeyProtector(folder / "device.key"))
        path = folder / "keystore.json"
        store = KeyStore.open(path, protector) if path.exists() else KeyStore.create(
            path, protector)
        location: LocationProvider | None = None
        if platform in ("android", "ios") or gpx:
            location = default_location_provider(platform, **({"gpx": gpx} if gpx else {}))
        frames = FolderFrameSource(frames_dir, loop=True) if frames_dir else None
        outbox = Outbox(folder / "outbox.sqlite", store.outbox_key())
        return cls(server, store, outbox, folder, platform, location, frames)

    def close(self) -> None:
        self.stop_tracking()
        self.outbox.close()

    # -- background location ------------------------------------------------------
    def start_tracking(self, case_id: int,
                       settings: TrackerSettings | None = None) -> LocationTracker | None:
        """A subject's background location (None without a GPS). The host calls
        `tracker.tick` every `tracker.every_s` seconds; the outbox delivers."""
        if self.location is None:
            return None
        if self.tracker is not None and self.tracker.case_id == case_id:
            return self.tracker
        self.stop_tracking()
        self.tracker = LocationTracker(self.outbox, self.location, case_id, settings)
        self.tracker.start()
        return self.tracker

    def my_case_id(self) -> int | None:
        """The subject's active case (cached, so tracking also starts offline); None
        when there is none."""
        try:
            case_id = int(self.client.call("GET", "/api/supervision/me")["case_id"])
        except ApiProblem as problem:
            if problem.status == 404:  # no active case (closed?): nothing to track
                self.set_pref("case_id", "")
                return None
            if not problem.offline:
                raise
            cached = self.pref("case_id")
            return int(cached) if cached and cached.isdigit() else None
        self.set_pref("case_id", str(case_id))
        return case_id

    def stop_tracking(self) -> None:
        if self.tracker is not None:
            self.tracker.stop()
            self.tracker = None

    # -- session ---------------------------------------------------------------
    @property
    def device_name(self) -> str:
        return "Android phone" if self.platform == "android" else (
            f"Shouwang desktop ({pyplatform.node() or 'pc'})")

    @property
    def signed_in(self) -> bool:
        return self.client.signed_in

    def login(self, username: str, password: str, totp: str | None = None) -> dict[str, Any]:
        tokens = self.client.login(username, password, totp or None,
                                   device_name=self.device_name, platform=self.platform)
        return self._remember(tokens["account"])

    def activate(self, code: str) -> dict[str, Any]:
        # People copy codes with spaces or lower case from paper; the server wants XXXXX-...
        clean = "".join(code.split()).upper()
        tokens = self.client.activate(clean, device_name=self.device_name,
                                      platform=self.platform)
        return self._remember(tokens["account"])

    def face_login(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """Signed in by a face-login challenge's frames: the account, or None when the
        server sent the face to an officer's review (no session yet)."""
        answer = self.client.face_login(body)
        return self._remember(answer["account"]) if answer.get("access_token") else None

    def me(self) -> dict[str, Any]:
        return self._remember(self.client.call("GET", "/api/me"))

    def resume(self) -> tuple[dict[str, Any], bool]:
        """(account, online) for a stored session; offline falls back to the cached account
        so a subject can still open the app (and see what is pending) without a network."""
        try:
            return self.me(), True
        except ApiProblem as problem:
            cached = self.cached_account()
            if problem.offline and cached is not None:
                return cached, False
            raise

    def cached_account(self) -> dict[str, Any] | None:
        raw = self.keystore.get(ACCOUNT_CACHE)
        return None if raw is None else json.loads(raw)

    def _remember(self, account: dict[str, Any]) -> dict[str, Any]:
        self.keystore.put(ACCOUNT_CACHE, json.dumps(account).encode())
        return account

    def logout(self) -> None:
        """Ends the session; local tokens go even when the server cannot be reached."""
        try:
            self.client.logout()
        except ApiProblem as problem:
            if not (problem.offline or problem.status == 401):
                raise
        finally:
            self.keystore.delete(ACCOUNT_CACHE)

    def forget_session(self) -> None:
        """The server ended the session (revoked phone, disabled account, token theft
        defence): drop the local tokens so the next start goes to the login screen."""
        for name in ("access_token", "refresh_token", ACCOUNT_CACHE):
            self.keystore.delete(name)

    # -- API -------------------------------------------------------------------
    def call(self, method: str, path: str, body: Any = None) -> Any:
        return self.client.call(method, path, body)

    def get_all(self, path: str, **query: str) -> list[Any]:
        """Every page of a paginated list (the client does not expose X-Pagination)."""
        items: list[Any] = []
        page = 1
        while True:
            params = urlencode({**query, "page": page, "page_size": PAGE_SIZE})
            batch = self.client.call("GET", f"{path}?{params}")
            items.extend(batch)
            if len(batch) < PAGE_SIZE:
                return items
            page += 1

    # -- outbox ----------------------------------------------------------------
    def pending_items(self) -> list[PendingItem]:
        """Not yet acknowledged, then refused ones: the person must see both. The face
        frames queued with an offline check-in are part of that check-in, not counted."""
        return [_pending(i) for i in self.outbox.pending() + self.outbox.rejected()
                if not (i.kind == "checkin" and i.path.startswith(FACE_FRAMES))]

    def deliver_outbox(self) -> DeliveryResult:
        offline = False

        def send(item: Item) -> Outcome:
            nonlocal offline
            try:  # the item id is the server's idempotency key: a resend is harmless
                response = self.client.call(item.method, item.path, item.json(),
                                            headers={"Idempotency-Key": item.id})
            except ApiProblem as problem:
                offline = offline or problem.offline
                # An expired session is not the item's fault: keep it for after sign-in.
                # A 409 request_in_flight is an earlier send of this very item still being
                # processed: retry after its Retry-After, when the answer is that one.
                if problem.retryable or problem.in_flight or problem.status == 401:
                    return Outcome.retry(problem.reason or problem.message, problem.retry_after)
                if _deciding(item, problem):
                    return Outcome.retry(problem.reason or problem.message, DECIDING_RETRY_S)
                return Outcome.rejected(problem.reason or problem.message,
                                        {"message": problem.message, "errors": problem.errors})
            return Outcome.delivered(response if isinstance(response, dict) else None)

        report = self.outbox.deliver_due(send)
        sent: list[str] = []
        refused: dict[str, str] = {}
        if not offline:
            try:
                sent, refused = self.evidence.upload_all()
            except ApiProblem as problem:  # resumes from the last acknowledged chunk
                offline = problem.offline
        counts = self.outbox.counts()
        waiting = len(self.evidence.pending()) - len(refused)
        return DeliveryResult(len(report.delivered) + len(sent),
                              counts["pending"] + counts["sending"] + waiting,
                              counts["rejected"] + len(refused), offline)

    # -- preferences (not secret: a plain file) ----------------------------------
    def pref(self, name: str, default: str | None = None) -> str | None:
        value = self._prefs().get(name, default)
        return value if isinstance(value, str) else default

    def set_pref(self, name: str, value: str) -> None:
        with self._prefs_lock:
            prefs = {**self._prefs(), name: value}
            (self.profile / "prefs.json").write_text(json.dumps(prefs))

    def _prefs(self) -> dict[str, Any]:
        try:
            loaded = json.loads((self.profile / "prefs.json").read_text())
        except (OSError, ValueError):
            return {}
        return loaded if isinstance(loaded, dict) else {}
