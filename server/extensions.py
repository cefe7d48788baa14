"""The app's shared extension objects, created unbound and bound in create_app."""

from __future__ import annotations

import logging
from typing import Any

import fakeredis
import redis
from flask import Flask, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from server.api import Api

log = logging.getLogger(__name__)

# Stable constraint names so Alembic migrations read the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
api = Api()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def init_redis(app: Flask) -> None:
    """Real Redis when REDIS_URL is set; otherwise fakeredis, one process only."""
    url = app.config["SHOUWANG"].redis_url
    client: Any
    if url:
        client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=3)
    else:
        log.warning("REDIS_URL is unset: using an in-process Redis substitute. "
                    "Nonces and queues are NOT shared between processes; "
                    "run a single process only.")
        client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    app.extensions["shouwang.redis"] = client


def get_redis() -> redis.Redis:
    return current_app.extensions["shouwang.redis"]
