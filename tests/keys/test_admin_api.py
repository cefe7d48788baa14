"""The admin key API (policy "keys.manage") and the `flask keys` commands."""

from __future__ import annotations

from sqlalchemy import select

from server.audit.models import AuditEntry
from server.extensions import db
from server.keys.fields import FIELD_KEY, INDEX_KEY
from server.keys.keyring import keyring
from tests.keys.helpers import charge, encodings
from tests.support import Phone, logged_in

BASE = "/api/admin/keys"
ENDPOINTS = [
    ("GET", "/status", None),
    ("POST", "/data", {"name": "casefiles"}),
    ("POST", f"/data/{FIELD_KEY}/rotate", None),
    ("POST", f"/data/{FIELD_KEY}/min-decryption-version", {"min_decryption_version": 1}),
    ("POST", f"/data/{FIELD_KEY}/versions/1/suspend", {"reason": "x"}),
    ("POST", f"/data/{FIELD_KEY}/versions/1/reactivate", None),
    ("POST", f"/data/{FIELD_KEY}/versions/1/destroy", {"reason": "x"}),
    ("POST", "/kek/rotate", {}),
    ("POST", "/kek/versions/1/destroy", {"reason": "x"}),
    ("POST", "/rewrap", None),
    ("POST", "/signing/rotate", None),
]


def test_only_admins_manage_keys(app, demo):
    officer = logged_in(app, "officer")
    subject = Phone(app)
    assert subject.activate(demo["subject"]).status_code == 200
    with app.app_context():
        before = db.session.scalar(select(db.func.count()).select_from(AuditEntry))
    for method, path, body in ENDPOINTS:
        refused = officer.signed(method, BASE + path, body)
        assert refused.status_code == 403, (path, refused.get_json())
        assert refused.get_json()["errors"]["reason"] == "role"
        assert subject.signed(method, BASE + path, body).status_code == 404, path
        assert Phone(app).signed(method, BASE + path, body, token="").status_code == 401
    with app.app_context():  # and nothing changed
        assert db.session.scalar(select(db.func.count()).select_from(AuditEntry)) == before


def test_status_shows_states_and_never_key_bytes(app, demo):
    admin = logged_in(app, "admin")
    officer = logged_in(app, "officer")
    master, _ = charge(officer, "intl")
    assert admin.post(f"{BASE}/data/{FIELD_KEY}/rotate").status_code == 200
    assert admin.post(f"{BASE}/data/{FIELD_KEY}/versions/1/suspend",
                      {"reason": "investigation"}).get_json()["state"] == "suspended"
    response = admin.get(f"{BASE}/status")
    assert response.status_code == 200
    status = response.get_json()
    assert status["kek"]["provider"] == "file" and status["crypto_profile"] == "intl"
    fields = next(k for k in status["data_keys"] if k["name"] == FIELD_KEY)
    assert [(v["version"], v["state"]) for v in fields["versions"]] == [
        (1, "suspended"), (2, "active")]
    assert fields["latest_version"] == 2 and fields["min_decryption_version"] == 1
    assert status["device_keys"] == {"active": 1}
    assert status["signing_keys"] and "kid" in status["signing_keys"][0]
    with app.app_context():
        ring = keyring()
        secrets_ = [master, ring.data_key(FIELD_KEY, 1), ring.data_key(FIELD_KEY, 2),
                    ring.data_key(INDEX_KEY, 1)]
    raw = response.get_data()
    assert not any(form in raw for s in secrets_ for form in encodings(s))


def test_state_changes_through_the_api(app, demo):
    admin = logged_in(app, "admin")
    created = admin.post(f"{BASE}/data", {"name": "jurisdiction:77"})
    assert created.status_code == 201
    assert (created.get_json()["version"], created.get_json()["state"]) == (1, "active")
    assert admin.post(f"{BASE}/data", {"name": "jurisdiction:77"}).status_code == 409
    assert admin.post(f"{BASE}/data", {"name": "Bad Name!"}).status_code == 422
    assert admin.post(f"{BASE}/data", {"name": "x", "state": "active"}).status_code == 422
    rotated = admin.post(f"{BASE}/data/jurisdiction:77/rotate").get_json()
    assert (rotated["version"], rotated["state"]) == (2, "active")
    policy = admin.post(f"{BASE}/data/jurisdiction:77/min-decryption-version",
                        {"min_decryption_version": 2})
    assert policy.get_json() == {"name": "jurisdiction:77", "min_decryption_version": 2}
    too_high = admin.post(f"{BASE}/data/jurisdiction:77/min-decryption-version",
                          {"min_decryption_version": 3})
    assert too_high.status_code == 422
    assert admin.post(f"{BASE}/data/jurisdiction:77/min-decryption-version",
                      {"min_decryption_version": "2"}).status_code == 422  # strict integer
    newest = admin.post(f"{BASE}/data/jurisdiction:77/versions/2/destroy", {"reason": "x"})
    assert newest.status_code == 409
    body = newest.get_json()
    assert set(body) == {"code", "status", "message", "errors"}
    assert body["errors"]["reason"] == "newest_version" and "rotate" in body["message"]
    assert admin.post(f"{BASE}/data/jurisdiction:77/versions/1/destroy",
                      {}).status_code == 422  # a reason is required
    assert admin.post(f"{BASE}/data/nope/versions/1/suspend",
                      {"reason": "x"}).status_code == 404
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(
            AuditEntry.action == "keys.min_decryption_version"))
        assert entry.details == {"name": "jurisdiction:77", "from": 1, "to": 2}
        assert entry.actor_role == "admin"


def test_flask_keys_commands(app, demo):
    runner = app.test_cli_runner()

    def run(*args: str):
        return runner.invoke(args=["keys", *args])

    assert "data key fields rotated: now v2" in run("rotate", FIELD_KEY).output
    status = run("status")
    assert status.exit_code == 0
    assert "data key fields: v1 deactivated, v2 active (min_decryption_version 1)" in status.output
    assert "KEK provider file" in status.output
    assert run("destroy", FIELD_KEY, "1", "--reason", "erase").exit_code != 0  # unconfirmed
    destroyed = run("destroy", FIELD_KEY, "1", "--reason", "erase", "--yes")
    assert destroyed.exit_code == 0 and "destroyed" in destroyed.output
    again = run("destroy", FIELD_KEY, "1", "--reason", "erase", "--yes")
    assert again.exit_code == 1 and "it is destroyed" in again.output
    assert run("rotate", INDEX_KEY).exit_code == 1
    rotated = run("rotate-kek")
    assert rotated.exit_code == 0 and "KEK rotated" in rotated.output
    assert "0 failed" in rotated.output
    assert "rotated: kid" in run("rotate-signing").output
    with app.app_context():
        entries = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "keys.data_key_destroy")).all()
        assert len(entries) == 1 and entries[0].details["via"] == "cli"
        assert entries[0].purpose == "erase"
