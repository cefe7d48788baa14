"""The phone's API client: device proofs on every request, token refresh,
and the error envelope turned into a message a person understands.

Sign-in charges the device (shared.kex: X25519 + ML-KEM-768) once; from then
on requests carry session proofs, MACed with a key derived from the charged
master key (shared.proof explains), which the server checks for a fraction of
a signature's cost. Sign-in, refresh and charging itself are signed with the
device's Ed25519 key, and so is everything when the device is not charged.

No Kivy here: the app, the command-line client and the tests share it.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mobile.core.keystore import MASTER_KEY
from shared.b64 import b64url_decode, b64url_encode
from shared.kex import ChargeResponse, DeviceKeyPair, device_complete
from shared.proof import (
    make_proof,
    make_session_proof,
    sealed_body_binding,
    session_proof_key,
)

TIMEOUT_S = 15
MASTER_KEY_META = f"{MASTER_KEY}.meta"  # version and profile of the stored master key
CHARGE_PATH = "/api/devices/keys"
log = logging.getLogger(__name__)

# What a person sees for the machine reasons the server gives.
FRIENDLY = {
    "bad_credentials": "Wrong username or password.",
    "totp_required": "Enter the 6-digit code from your authenticator app.",
    "bad_activation_code": "That activation code is wrong, used or expired. Ask your officer "
                           "for a new one.",
    "account_disabled": "This account is disabled. Contact your police station.",
    "device_revoked": "This phone has been disconnected from your account.",
    "session_ended": "You have been signed out. Please sign in again.",
    "refresh_reuse": "You have been signed out for your safety. Please sign in again.",
}


class TokenStore(Protocol):
    def get(self, name: str) -> bytes | None: ...
    def put(self, name: str, value: bytes) -> None: ...
    def delete(self, name: str) -> None: ...


@dataclass
class MemoryTokenStore:
    values: dict[str, bytes] = field(default_factory=dict)

    def get(self, name: str) -> bytes | None:
        return self.values.get(name)

    def put(self, name: str, value: bytes) -> None:
        self.values[name] = value

    def delete(self, name: str) -> None:
        self.values.pop(name, None)


class ApiProblem(Exception):
    """A failed call: the server's envelope, or the network being down."""

    def __init__(self, status: int, message: str, reason: str | None = None,
                 errors: dict[str, Any] | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.reason = status, message, reason
        self.errors, self.retry_after = errors or {}, retry_after

    @property
    def offline(self) -> bool:
        return self.status == 0

    @property
    def in_flight(self) -> bool:
        """The server is still working on an earlier send of the same idempotency key:
        not a refusal, ask again after Retry-After (and the answer will be that one)."""
        return self.status == 409 and self.reason == "request_in_flight"

    @property
    def retryable(self) -> bool:
        return self.status in (0, 408, 425, 429, 500, 502, 503, 504)

    def human(self) -> str:
        if self.offline:
            return "No connection. What you did is kept and will be sent when the network returns."
        return FRIENDLY.get(self.reason or "", self.message)


@dataclass(frozen=True)
class ChargedKey:
    """The device master key from key charging (shared.kex), as the server numbers it."""

    key: bytes
    version: int
    profile: str


@dataclass(frozen=True)
class SealedBody:
    """A request body of raw octets that authenticate themselves (an evidence chunk:
    STREAM ciphertext ending in its AEAD tag); the proof binds the tag
    (shared.proof.sealed_body_binding)."""

    data: bytes


class ApiClient:
    def __init__(self, base_url: str, key: Ed25519PrivateKey, store: TokenStore | None = None,
                 http: requests.Session | None = None, charge: bool = True) -> None:
        self.base_url = base_url.rstrip("/")
        self.key = key
        self.store = store or MemoryTokenStore()
        self.http = http or requests.Session()
        self.charge_at_sign_in = charge
        self._refresh_lock = threading.Lock()
        self._session_key: tuple[str, int, str, bytes] | None = None  # sid, version, profile

    # -- key charging -----------------------------------------------------------
    def charge(self) -> int:
        """Charge (or recharge) this device's master key; the key version."""
        pair = DeviceKeyPair.generate()
        answer = self.call("POST", CHARGE_PATH, {"x25519_pub": b64url_encode(pair.x_pub),
                                                 "mlkem768_pub": b64url_encode(pair.mlkem_pub)})
        device_id = self.store.get("device_id")
        if device_id is None:
            raise ApiProblem(401, "Not signed in.", "session_ended")
        master = device_complete(pair, device_id.decode(), ChargeResponse(
            b64url_decode(answer["eph_x_pub"]), b64url_decode(answer["ct"])), answer["profile"])
        self.store.put(MASTER_KEY, master)
        self.store.put(MASTER_KEY_META, json.dumps(
            {"version": answer["version"], "profile": answer["profile"]}).encode())
        self._session_key = None
        return int(answer["version"])

    @property
    def charged(self) -> bool:
        return self.store.get(MASTER_KEY) is not None

    def master_key(self) -> ChargedKey | None:
        """The charged master key with its version and profile, or None before charging."""
        master, meta = self.store.get(MASTER_KEY), self.store.get(MASTER_KEY_META)
        if master is None or meta is None:
            return None
        info = json.loads(meta)
        return ChargedKey(master, int(info["version"]), str(info["profile"]))

    def _charge_quietly(self) -> None:
        """Sign-in must not fail for want of charging: the device key still signs."""
        try:
            self.charge()
        except ApiProblem as problem:
            log.warning("key charging failed (%s); proving requests by signature",
                        problem.message)

    def _forget_master_key(self) -> None:
        for name in (MASTER_KEY, MASTER_KEY_META):
            self.store.delete(name)
        self._session_key = None

    def _proof(self, method: str, url: str, path: str, data: bytes, token: str | None) -> str:
        """A session proof where one can be made, else the device key's signature."""
        key = None if token is None or path.startswith(("/api/auth/", CHARGE_PATH)) \
            else self._proof_key(token)
        if key is None:
            return make_proof(self.key, method, url, data, access_token=token)
        _, version, profile, secret = key
        return make_session_proof(secret, version, profile, method, url, data,
                                  access_token=token or "")

    def _proof_key(self, token: str) -> tuple[str, int, str, bytes] | None:
        """(session id, key version, profile, session proof key); the key store is read
        only when the session changes (charging and forgetting reset it)."""
        try:
            sid = str(json.loads(b64url_decode(token.split(".")[1]))["sid"])
        except (ValueError, KeyError, IndexError):
            return None
        if self._session_key is None or self._session_key[0] != sid:
            charged = self.master_key()
            if charged is None:
                return None
            self._session_key = (sid, charged.version, charged.profile,
                                 session_proof_key(charged.key, sid, charged.profile))
        return self._session_key

    # -- sessions ------------------------------------------------------------
    def login(self, username: str, password: str, totp: str | None = None,
              device_name: str = "", platform: str = "") -> dict[str, Any]:
        body: dict[str, Any] = {"username": username, "password": password,
                                "device_name": device_name, "platform": platform}
        if totp:
            body["totp"] = totp
        return self._keep(self._send("POST", "/api/auth/login", body, token=None))

    def activate(self, code: str, device_name: str = "", platform: str = "") -> dict[str, Any]:
        body = {"activation_code": code, "device_name": device_name, "platform": platform}
        return self._keep(self._send("POST", "/api/auth/activate", body, token=None))

    def face_challenge(self) -> dict[str, Any]:
        """A face-login challenge for this device: the proof's key names it, no token."""
        return dict(self._send("POST", "/api/auth/face/challenge", None, token=None))

    def face_login(self, body: dict[str, Any]) -> dict[str, Any]:
        """The frames of a face-login challenge. Passed: the tokens (kept here), as a
        password login gives; sent to an officer's review: the decision only."""
        answer = dict(self._send("POST", "/api/auth/face/login", body, token=None))
        if answer.get("access_token"):
            self._keep(answer)
        return answer

    def refresh(self) -> None:
        refresh_token = self.store.get("refresh_token")
        if refresh_token is None:
            raise ApiProblem(401, "Not signed in.", "session_ended")
        self._keep(self._send("POST", "/api/auth/refresh",
                              {"refresh_token": refresh_token.decode()}, token=None))

    def logout(self) -> None:
        try:
            self.call("POST", "/api/auth/logout")
        finally:
            for name in ("access_token", "refresh_token"):
                self.store.delete(name)

    @property
    def signed_in(self) -> bool:
        return self.store.get("refresh_token") is not None

    # -- calls ----------------------------------------------------------------
    def call(self, method: str, path: str, body: Any = None,
             headers: dict[str, str] | None = None, raw: bool = False) -> Any:
        """An authenticated call; refreshes the access token once if it expired.
        `raw`: the body's bytes as sent (a download), not JSON."""
        token = self.store.get("access_token")
        if token is None:
            self.refresh()
            token = self.store.get("access_token")
        try:
            return self._send(method, path, body, token=token.decode() if token else None,
                              headers=headers, raw=raw)
        except ApiProblem as problem:
            if problem.status == 401 and problem.reason == "proof_stale":
                # The server's nonce store restarted after we signed: sign anew.
                return self._send(method, path, body, token=token.decode() if token else None,
                                  headers=headers, raw=raw)
            if problem.status == 401 and problem.reason == "proof_key":
                # The server no longer knows our master key (recharged elsewhere, restored
                # from a backup): sign with the device key, and charge again.
                self._forget_master_key()
                answer = self._send(method, path, body, token=token.decode() if token else None,
                                    headers=headers, raw=raw)
                if self.charge_at_sign_in and path != CHARGE_PATH:
                    self._charge_quietly()
                return answer
            if problem.status != 401 or problem.reason != "invalid_token":
                raise
        with self._refresh_lock:
            self.refresh()
        token = self.store.get("access_token")
        return self._send(method, path, body, token=token.decode() if token else None,
                          headers=headers, raw=raw)

    def download(self, path: str) -> bytes:
        """An authenticated GET of bytes (evidence content), errors as for `call`."""
        return bytes(self.call("GET", path, raw=True) or b"")

    def _send(self, method: str, path: str, body: Any, token: str | None,
              headers: dict[str, str] | None = None, raw: bool = False) -> Any:
        url = self.base_url + path
        if isinstance(body, SealedBody):
            data, bound = body.data, sealed_body_binding(body.data)
            sent = {"Content-Type": "application/octet-stream"}
        else:
            data = bound = b"" if body is None else json.dumps(body).encode()
            sent = {} if body is None else {"Content-Type": "application/json"}
        sent["DPoP"] = self._proof(method, url, path, bound, token)
        if token:
            sent["Authorization"] = f"DPoP {token}"
        sent.update(headers or {})
        try:
            response = self.http.request(method, url, data=data or None, headers=sent,
                                         timeout=TIMEOUT_S)
        except requests.RequestException as exc:
            raise ApiProblem(0, f"network: {type(exc).__name__}") from exc
        if response.status_code >= 400:
            raise _problem(response)
        if raw:
            return response.content
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def _keep(self, tokens: dict[str, Any]) -> dict[str, Any]:
        self.store.put("access_token", tokens["access_token"].encode())
        self.store.put("refresh_token", tokens["refresh_token"].encode())
        device_id = tokens.get("device_id")
        if device_id and self.store.get("device_id") not in (None, device_id.encode()):
            self._forget_master_key()  # another device record: its key is not ours
        if device_id:
            self.store.put("device_id", device_id.encode())
        if device_id and self.charge_at_sign_in and not self.charged:
            self._charge_quietly()
        return tokens


def _problem(response: requests.Response) -> ApiProblem:
    try:
        payload = response.json()
    except ValueError:
        payload = {}
    errors = payload.get("errors") if isinstance(payload, dict) else None
    errors = errors if isinstance(errors, dict) else {}
    retry = response.headers.get("Retry-After")
    return ApiProblem(response.status_code,
                      (payload.get("message") if isinstance(payload, dict) else None)
                      or response.reason or "error",
                      reason=errors.get("reason"), errors=errors,
                      retry_after=float(retry) if retry and retry.isdigit() else None)
