"""Production refuses to start without real secrets; nothing is generated there."""

from __future__ import annotations

import pytest

from server.config import ConfigError, load_settings

PROD = {"SHOUWANG_ENV": "production"}


def test_production_without_database_url_refuses(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        load_settings(PROD)


def test_production_without_redis_refuses(monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    with pytest.raises(ConfigError, match="REDIS_URL"):
        load_settings(PROD | {"DATABASE_URL": "postgresql://x@h/db"})


def test_production_without_a_configured_kek_refuses(monkeypatch):
    monkeypatch.delenv("SHOUWANG_KEK_FILE", raising=False)
    with pytest.raises(ConfigError, match="SHOUWANG_KEK_FILE"):
        load_settings(PROD | {"DATABASE_URL": "postgresql://x@h/db", "REDIS_URL": "redis://h"})


def test_production_does_not_create_a_missing_key_file(tmp_path):
    from server.keys.kek import KEKError, load_kek

    settings = load_settings(PROD | {"DATABASE_URL": "postgresql://x@h/db",
                                     "REDIS_URL": "redis://h",
                                     "SHOUWANG_KEK_FILE": str(tmp_path / "kek.json")})
    with pytest.raises(KEKError):
        load_kek(settings)
    assert not (tmp_path / "kek.json").exists()


def test_development_key_file_is_created_private(tmp_path):
    import stat

    from server.keys.kek import load_kek

    settings = load_settings({"SHOUWANG_INSTANCE": str(tmp_path), "SHOUWANG_ENV": "development"})
    load_kek(settings)
    mode = stat.S_IMODE((tmp_path / "kek.json").stat().st_mode)
    assert mode == 0o600
