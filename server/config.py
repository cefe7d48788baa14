"""Settings from the environment only.

On a laptop everything has an embedded default (SQLite under instance/, an
in-process Redis substitute, a local key file). In production
(SHOUWANG_ENV=production) a missing secret stops the start-up: nothing is
silently generated there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    """The environment does not describe a deployment we can start."""


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


@dataclass(frozen=True)
class Settings:
    env: str
    instance_path: Path
    database_url: str
    redis_url: str | None
    kek_provider: str
    kek_file: Path
    token_issuer: str
    crypto_profile: str
    access_token_ttl_s: int
    refresh_token_ttl_s: int
    # SHOUWANG_KEK_PROVIDER=pkcs11: the HSM's module (.so), token label and user PIN.
    pkcs11_module: str | None = None
    pkcs11_token: str | None = None
    pkcs11_pin: str | None = field(default=None, repr=False)

    @property
    def production(self) -> bool:
        return self.env == "production"

    def flask_config(self) -> dict[str, Any]:
        engine: dict[str, Any] = {"pool_pre_ping": True}
        if self.database_url.startswith("sqlite"):
            # Several threads (dev server + worker thread) share the file.
            engine = {"connect_args": {"check_same_thread": False, "timeout": 15}}
        return {
            "SQLALCHEMY_DATABASE_URI": self.database_url,
            "SQLALCHEMY_ENGINE_OPTIONS": engine,
            "SQLALCHEMY_TRACK_MODIFICATIONS": False,
            "API_TITLE": "Shouwang API",
            "API_VERSION": "v1",
            "OPENAPI_VERSION": "3.0.3",
            "OPENAPI_URL_PREFIX": "/",
            "OPENAPI_JSON_PATH": "api/openapi.json",
            "OPENAPI_SWAGGER_UI_PATH": "docs",
            "OPENAPI_SWAGGER_UI_URL": "https://cdn.jsdelivr.net/npm/swagger-ui-dist/",
            "OPENAPI_REDOC_PATH": "redoc",
            "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
            "RATELIMIT_STORAGE_URI": self.redis_url or "memory://",
            "RATELIMIT_HEADERS_ENABLED": True,
            "RATELIMIT_STRATEGY": "moving-window",
            "JSON_SORT_KEYS": False,
            "SHOUWANG": self,
        }


def load_settings(overrides: dict[str, str] | None = None) -> Settings:
    def env_get(name: str, default: str | None = None) -> str | None:
        return (overrides or {}).get(name) or _env(name, default)

    env = env_get("SHOUWANG_ENV", "development") or "development"
    instance = Path(env_get("SHOUWANG_INSTANCE", str(ROOT / "instance")) or "")
    production = env == "production"

    database_url = env_get("DATABASE_URL")
    if database_url is None:
        if production:
            raise ConfigError("SHOUWANG_ENV=production needs DATABASE_URL (PostgreSQL).")
        database_url = f"sqlite:///{instance / 'shouwang.db'}"
    if database_url.startswith("postgresql://"):
        # psycopg 3 is the driver we install.
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://"):]

    redis_url = env_get("REDIS_URL")
    if redis_url is None and production:
        raise ConfigError("SHOUWANG_ENV=production needs REDIS_URL: nonces and limits "
                          "must be shared by every process.")

    kek_provider = env_get("SHOUWANG_KEK_PROVIDER", "file") or "file"
    kek_file_env = env_get("SHOUWANG_KEK_FILE")
    if production and kek_provider == "file" and kek_file_env is None:
        raise ConfigError("SHOUWANG_ENV=production needs SHOUWANG_KEK_FILE (an existing key "
                          "file) or SHOUWANG_KEK_PROVIDER=pkcs11; no key is generated there.")
    kek_file = Path(kek_file_env) if kek_file_env else instance / "kek.json"
    pkcs11 = {k: env_get(f"SHOUWANG_PKCS11_{k.upper()}") for k in ("module", "token", "pin")}
    if kek_provider == "pkcs11" and not all(pkcs11.values()):
        raise ConfigError("SHOUWANG_KEK_PROVIDER=pkcs11 needs SHOUWANG_PKCS11_MODULE, "
                          "SHOUWANG_PKCS11_TOKEN and SHOUWANG_PKCS11_PIN.")
    crypto_profile = env_get("SHOUWANG_CRYPTO_PROFILE", "intl") or "intl"
    if crypto_profile not in ("intl", "gm"):
        raise ConfigError("SHOUWANG_CRYPTO_PROFILE must be intl (AES-256-GCM, SHA-256) "
                          "or gm (SM4-GCM, SM3).")

    return Settings(
        env=env,
        instance_path=instance,
        database_url=database_url,
        redis_url=redis_url,
        kek_provider=kek_provider,
        kek_file=kek_file,
        token_issuer=env_get("SHOUWANG_ISSUER", "https://shouwang.local") or "",
        crypto_profile=crypto_profile,
        access_token_ttl_s=int(env_get("SHOUWANG_ACCESS_TTL", "300") or 300),
        refresh_token_ttl_s=int(env_get("SHOUWANG_REFRESH_TTL", str(30 * 86400)) or 0),
        pkcs11_module=pkcs11["module"], pkcs11_token=pkcs11["token"], pkcs11_pin=pkcs11["pin"],
    )
