"""Rate limits on authentication paths, and TOTP for password accounts."""

from __future__ import annotations

import pyotp

from tests.support import Phone, logged_in


def test_repeated_logins_get_429_with_retry_after(app, demo):
    phone = Phone(app)
    statuses = [phone.login("officer", "wrong-password").status_code for _ in range(7)]
    assert statuses[:5] == [401] * 5
    assert statuses[-1] == 429
    response = phone.login("officer", "wrong-password")
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert set(response.get_json()) == {"code", "status", "message", "errors"}


def test_activation_guessing_is_rate_limited(app, demo):
    phone = Phone(app)
    statuses = [phone.activate("AAAAA-BBBBB-CCCCC").status_code for _ in range(12)]
    assert statuses[0] == 401 and statuses[-1] == 429


def _totp_secret(uri: str) -> str:
    return pyotp.parse_uri(uri).secret


def test_totp_once_enabled_is_required_and_single_use(app, demo):
    officer = logged_in(app, "officer")
    uri = officer.post("/api/auth/totp/setup").get_json()["provisioning_uri"]
    totp = pyotp.TOTP(_totp_secret(uri))
    assert officer.post("/api/auth/totp/confirm", {"code": "000000"}).status_code in (422,)
    confirmed = totp.now()  # one value: a 30 s step may turn between two calls
    assert officer.post("/api/auth/totp/confirm", {"code": confirmed}).status_code == 204
    without = Phone(app).login("officer")
    assert without.status_code == 401
    assert without.get_json()["errors"]["reason"] == "totp_required"
    # The code used for confirming cannot be replayed to log in.
    assert Phone(app).login("officer", totp=confirmed).status_code == 401
