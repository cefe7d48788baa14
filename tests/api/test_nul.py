"""U+0000 in text: PostgreSQL cannot store or compare it, so it is refused as bad input
everywhere (a 500 on PostgreSQL only, found by the fuzzer), never reaching the database."""

from __future__ import annotations

from tests.support import logged_in


def test_nul_in_a_body_is_a_422(app, demo):
    officer = logged_in(app, "officer")
    response = officer.post("/api/supervision/cases", {
        "case_number": "A\u0000B", "subject_id": "x" * 32, "starts_on": "2026-12-01"})
    assert response.status_code == 422
    assert "NUL" in response.get_json()["message"] + str(response.get_json()["errors"])


def test_nul_in_a_query_string_is_a_422(app, demo):
    officer = logged_in(app, "officer")
    response = officer.get("/api/supervision/cases?status=active&purpose=audit%00x")
    assert response.status_code == 422
    assert officer.get("/api/supervision/cases?status=active&purpose=audit").status_code == 200


def test_nul_in_a_path_is_a_404(app, demo):
    officer = logged_in(app, "officer")
    response = officer.get("/api/biometrics/challenges/abc%00def")
    assert response.status_code == 404
    assert response.get_json()["status"] == "Not Found"
