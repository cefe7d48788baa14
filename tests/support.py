"""Test helpers that talk to the app the way the phone does: real proofs."""

from __future__ import annotations

import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from werkzeug.test import TestResponse

from shared.proof import make_proof, sealed_body_binding

BASE = "http://localhost"

PASSWORDS = {
    "admin": "shouwang-admin-demo", "officer": "shouwang-officer-demo",
    "officer2": "shouwang-officer-demo", "prosecutor": "shouwang-prosecutor-demo",
    "owner": "shouwang-owner-demo", "staff": "shouwang-staff-demo",
}


def make_demo(app: Flask) -> dict[str, str | None]:
    from server.seed import seed_demo

    with app.app_context():
        return {demo.username: code for demo, code in seed_demo()}


class Client:
    """Unauthenticated calls (curl-like)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.http = app.test_client()

    def request(self, method: str, path: str, body: Any = None,
                headers: dict[str, str] | None = None, raw: bytes | None = None) -> TestResponse:
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        hdrs = {"Content-Type": "application/json"} if data else {}
        hdrs.update(headers or {})
        return self.http.open(path, method=method, data=data, headers=hdrs)


class Phone(Client):
    """A device with its own Ed25519 key that signs a proof for every call."""

    def __init__(self, app: Flask, key: Ed25519PrivateKey | None = None) -> None:
        super().__init__(app)
        self.key = key or Ed25519PrivateKey.generate()
        self.access_token: str | None = None
        self.refresh_token: str | None = None
        self.device_id: str | None = None

    def signed(self, method: str, path: str, body: Any = None, token: str | None = None,
               headers: dict[str, str] | None = None, proof: str | None = None,
               raw: bytes | None = None, sealed: bool = False) -> TestResponse:
        """`sealed`: the body is a sealed evidence chunk, bound by its tag (shared.proof)."""
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        token = token if token is not None else self.access_token
        url = BASE + path.split("?")[0]
        bound = sealed_body_binding(data) if sealed else data
        hdrs = {"DPoP": proof
                or make_proof(self.key, method, url, bound, access_token=token or None)}
        if token:
            hdrs["Authorization"] = f"DPoP {token}"
        hdrs.update(headers or {})
        return self.request(method, path, headers=hdrs, raw=data)

    def _keep(self, response: TestResponse) -> TestResponse:
        if response.status_code == 200:
            payload = response.get_json()
            self.access_token = payload["access_token"]
            self.refresh_token = payload["refresh_token"]
            self.device_id = payload["device_id"]
        return response

    def login(self, username: str, password: str | None = None,
              totp: str | None = None) -> TestResponse:
        body = {"username": username, "password": password or PASSWORDS[username]}
        if totp:
            body["totp"] = totp
        return self._keep(self.signed("POST", "/api/auth/login", body, token=""))

    def activate(self, code: str) -> TestResponse:
        return self._keep(self.signed("POST", "/api/auth/activate",
                                      {"activation_code": code, "device_name": "test phone",
                                       "platform": "android"}, token=""))

    def refresh(self, refresh_token: str | None = None) -> TestResponse:
        return self._keep(self.signed("POST", "/api/auth/refresh",
                                      {"refresh_token": refresh_token or self.refresh_token},
                                      token=""))

    def get(self, path: str, **kw: Any) -> TestResponse:
        return self.signed("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> TestResponse:
        return self.signed("POST", path, body, **kw)


def logged_in(app: Flask, username: str) -> Phone:
    phone = Phone(app)
    response = phone.login(username)
    assert response.status_code == 200, response.get_json()
    return phone
