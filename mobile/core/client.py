"""The phone's API client: device proofs on every request, token refresh,
and the error envelope turned into a message a person understands.

No Kivy here: the app, the command-line client and the tests share it.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.proof import make_proof

TIMEOUT_S = 15

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


class ApiClient:
    def __init__(self, base_url: str, key: Ed25519PrivateKey, store: TokenStore | None = None,
                 http: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.key = key
        self.store = store or MemoryTokenStore()
        self.http = http or requests.Session()
        self._refresh_lock = threading.Lock()

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
        data = b"" if body is None else json.dumps(body).encode()
        sent = {"DPoP": make_proof(self.key, method, url, data, access_token=token)}
        if body is not None:
            sent["Content-Type"] = "application/json"
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
