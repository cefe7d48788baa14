"""The audit chain proves itself intact, or names the first altered entry."""

from __future__ import annotations

from sqlalchemy import text

from server.audit.service import verify_chain
from server.extensions import db
from tests.support import logged_in


def _run_cli(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def test_fresh_chain_verifies(app, demo):
    logged_in(app, "officer")
    with app.app_context():
        result = verify_chain()
    assert result.ok and result.entries >= 10


def test_altered_entry_is_named(app, demo):
    logged_in(app, "officer")
    with app.app_context():
        db.session.execute(text("UPDATE audit_entries SET purpose = 'covered up' WHERE seq = 5"))
        db.session.commit()
        result = verify_chain()
    assert not result.ok and result.first_bad_seq == 5 and result.problem == "entry altered"
    cli = _run_cli(app, "audit", "verify")
    assert cli.exit_code == 1 and "entry 5" in cli.output


def test_removed_entry_is_found(app, demo):
    with app.app_context():
        db.session.execute(text("DELETE FROM audit_entries WHERE seq = 3"))
        db.session.commit()
        result = verify_chain()
    assert not result.ok and result.first_bad_seq == 3


def test_cut_tail_is_found(app, demo):
    with app.app_context():
        last = db.session.scalar(text("SELECT max(seq) FROM audit_entries"))
        db.session.execute(text("DELETE FROM audit_entries WHERE seq = :s"), {"s": last})
        db.session.commit()
        assert not verify_chain().ok


def test_admin_endpoint_verifies_and_others_cannot(app, demo):
    admin = logged_in(app, "admin")
    response = admin.get("/api/admin/audit/verify")
    assert response.status_code == 200 and response.get_json()["ok"] is True
    assert logged_in(app, "officer").get("/api/admin/audit/verify").status_code == 403
    entries = admin.get("/api/admin/audit?action=auth.login").get_json()
    assert entries and all(e["action"] == "auth.login" for e in entries)


def test_failed_logins_are_audited(app, demo, phone):
    phone.login("officer", "wrong-password")
    with app.app_context():
        outcome = db.session.scalar(text(
            "SELECT outcome FROM audit_entries WHERE action = 'auth.login' "
            "ORDER BY seq DESC LIMIT 1"))
    assert outcome == "denied"


def test_no_api_route_changes_or_deletes_entries(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/admin/audit"):
            assert rule.methods <= {"GET", "HEAD", "OPTIONS"}
