"""The nonce round trip sent ahead of the proof's check (server/identity/nonces.py):
a jti burns once, a forgotten script is loaded again, a broken connection falls
back to the client's own call, and no connection is handed on with a reply unread."""

from __future__ import annotations

import secrets

from server.extensions import get_redis
from server.identity.nonces import EPOCH_KEY, Burn


def _jti() -> str:
    return secrets.token_urlsafe(18)


def test_a_jti_burns_once_and_the_values_come_back(app):
    with app.app_context():
        get_redis().set("auth:test:value", "v")
        jti = _jti()
        epoch, fresh, values = Burn(jti, ["auth:test:value", "auth:test:none"]).reply()
        assert fresh and values == [b"v", None]
        assert int(epoch) == int(get_redis().get(EPOCH_KEY))
        assert Burn(jti, []).reply()[1] is False


def test_a_forgotten_script_is_sent_whole(app):
    with app.app_context():
        get_redis().script_flush()
        assert Burn(_jti(), []).reply()[1] is True


def test_a_connection_broken_after_sending_falls_back_and_never_unburns(app):
    with app.app_context():
        jti = _jti()
        burn = Burn(jti, [])
        assert burn._conn is not None
        burn._conn.disconnect()  # the reply is lost with the connection
        _, fresh, _ = burn.reply()  # answered by the client's own call instead
        # Whether the lost send reached Redis decides `fresh` (a race with the close);
        # either way the jti is burned now, and a second burn is never fresh.
        assert isinstance(fresh, bool)
        assert Burn(jti, []).reply()[1] is False


def test_an_unread_reply_never_reaches_the_next_caller(app):
    with app.app_context():
        burn = Burn(_jti(), [])
        try:
            raise RuntimeError("the proof check blew up")
        except RuntimeError:
            burn.reply()  # read in the caller's finally, as authenticate does
        assert burn._conn is None
        # The connection went back with its reply read: the next command gets its own.
        assert get_redis().set("auth:test:next", "x") is True
        assert get_redis().get("auth:test:next") == b"x"
