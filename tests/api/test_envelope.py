"""One error envelope for every failure, never a stack trace."""

from __future__ import annotations

from server.app import create_app

KEYS = {"code", "status", "message", "errors"}


def test_unknown_path_is_404_in_the_envelope(client):
    response = client.request("GET", "/api/no-such-thing")
    assert response.status_code == 404 and set(response.get_json()) == KEYS


def test_wrong_method_is_405_in_the_envelope(client):
    response = client.request("DELETE", "/api/auth/login")
    assert response.status_code == 405 and set(response.get_json()) == KEYS


def test_too_large_body_is_413_in_the_envelope(client):
    response = client.request("POST", "/api/auth/login", raw=b"x" * (17 * 1024 * 1024))
    assert response.status_code == 413 and set(response.get_json()) == KEYS


def test_malformed_json_is_a_4xx_in_the_envelope(client):
    response = client.request("POST", "/api/auth/login", raw=b"{not json",
                              headers={"Content-Type": "application/json"})
    assert 400 <= response.status_code < 500
    assert set(response.get_json()) == KEYS


def test_validation_errors_name_the_field(client, demo):
    response = client.request("POST", "/api/auth/login", {"username": "officer"})
    assert response.status_code == 422
    assert "password" in response.get_json()["errors"]["json"]


def test_unexpected_error_is_500_without_details(tmp_path):
    app = create_app({"SHOUWANG_INSTANCE": str(tmp_path),
                      "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})

    @app.route("/boom")
    def boom():
        raise RuntimeError("secret connection string postgresql://u:pw@db")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    body = response.get_json()
    assert set(body) == KEYS
    assert "secret" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)


def test_database_outage_is_503_with_retry_after(tmp_path):
    app = create_app({"SHOUWANG_INSTANCE": str(tmp_path),
                      "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})
    import jwt
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    token = jwt.encode({"sub": "x"}, Ed25519PrivateKey.generate(), algorithm="EdDSA",
                       headers={"kid": "k1", "typ": "at+jwt"})
    # Looking up the signing key by kid needs the database.
    response = app.test_client().get("/api/me", headers={"Authorization": f"DPoP {token}"})
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert set(response.get_json()) == KEYS
    assert "nobody" not in response.get_data(as_text=True)


def test_healthz_reports_database_and_redis(client):
    response = client.request("GET", "/healthz")
    assert response.status_code == 200
    assert response.get_json()["checks"] == {"database": "ok", "redis": "ok"}


def test_healthz_says_when_the_database_is_down(tmp_path):
    app = create_app({"SHOUWANG_INSTANCE": str(tmp_path),
                      "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"] == "unreachable"
