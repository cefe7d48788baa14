"""The single-use nonce round trip: one Redis script burns a proof's jti and reads
the nonce store's epoch and the caller's validity (server.identity.validity).

redis-py packs a four-command pipeline and parses its four replies in Python,
which cost a process about as much CPU as the round trip's own system calls;
one EVALSHA packs one command and parses one reply. (Atomic too, which nothing
relies on. One Redis, not a cluster: the keys would be in several slots.)

The command is sent before the proof is checked and its reply read after
(Burn): the proof's check runs while Redis works, and the reply is usually
there when it is read, so the worker does not sleep and wake for it. For a
token this process has verified before, it is sent earlier still, before Flask
dispatches the request (early.py), and authenticate() claims it. Burning
the jti of a proof that then fails costs nothing: a jti is random and single
use, and one that was never valid is never presented again. A broken
connection falls back to the client's own call, with its retries.
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any

import hiredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from server.extensions import get_redis
from shared.proof import MAX_AGE_S, MAX_FUTURE_S

NONCE_TTL_S = MAX_AGE_S + MAX_FUTURE_S + 10
EPOCH_KEY = "dpop:epoch"  # never expires: its loss is how a restart is noticed
# KEYS: epoch, jti, then the values to read; ARGV: now, the jti's lifetime.
BURN = """
redis.call('SET', KEYS[1], ARGV[1], 'NX')
local out = {redis.call('GET', KEYS[1]),
             redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[2]) and 1 or 0}
for i = 3, #KEYS do out[i] = redis.call('GET', KEYS[i]) end
return out
"""
BURN_SHA = hashlib.sha1(BURN.encode(), usedforsecurity=False).hexdigest()
_BROKEN = (RedisConnectionError, RedisTimeoutError)
log = logging.getLogger(__name__)


Reply = tuple[bytes, bool, list[Any]]


class Burn:
    """One round trip for `jti`, sent now; reply() reads it:
    (epoch, whether the jti was fresh, the values of `also_get`)."""

    def __init__(self, jti: str, also_get: list[str], client: Any = None) -> None:
        self.jti, self.also_get = jti, also_get
        self.keys = [EPOCH_KEY, f"dpop:jti:{jti}", *also_get]
        self.args = (int(time.time()), NONCE_TTL_S)
        self.client = get_redis() if client is None else client
        self._conn: Any = None
        self._reply: Reply | None = None
        pool = self.client.connection_pool
        try:
            conn = pool.get_connection()
        except _BROKEN:
            return  # reply() makes the call the ordinary way
        try:
            # Packed by hiredis directly: redis-py's packer encodes each argument in
            # Python first, which cost five times as much (about 6 us a request).
            command: Any = ("EVALSHA", BURN_SHA, len(self.keys), *self.keys, *self.args)
            conn.send_packed_command([hiredis.pack_command(command)])
        except _BROKEN:
            conn.disconnect()
            pool.release(conn)
            return
        self._conn = conn

    def reply(self) -> Reply:
        """The reply (read once; a second call returns the same)."""
        if self._reply is None:
            self._reply = self._read()
        return self._reply

    def close(self) -> None:
        """Read a reply nobody claimed, so its connection goes back to the pool clean
        (early.py, after the request). A broken connection is dropped, not retried."""
        if self._conn is not None and self._reply is None:
            try:
                out = self._read_sent()
            except RedisError as exc:  # an error reply nobody asked for: not the request's
                log.warning("unclaimed nonce round trip failed: %s", exc)
                return
            if out is not None:
                self._reply = self._unpack(out)

    def _read_sent(self) -> Any:
        conn, self._conn = self._conn, None
        if conn is None:
            return None
        pool = self.client.connection_pool
        try:
            try:
                return conn.read_response()
            except NoScriptError:  # a restarted or flushed Redis forgot the script
                conn.send_command("EVAL", BURN, len(self.keys), *self.keys, *self.args)
                return conn.read_response()
        except _BROKEN:
            conn.disconnect()  # the caller falls back to the ordinary call, with its retries
            return None
        except BaseException:
            conn.disconnect()  # its reply may be unread: never hand it on
            raise
        finally:
            pool.release(conn)

    def _read(self) -> Reply:
        out = self._read_sent()
        if out is None:
            try:
                out = self.client.evalsha(BURN_SHA, len(self.keys), *self.keys, *self.args)
            except NoScriptError:
                out = self.client.eval(BURN, len(self.keys), *self.keys, *self.args)
        return self._unpack(out)

    @staticmethod
    def _unpack(out: Any) -> Reply:
        epoch, fresh, *rest = out
        return epoch, bool(fresh), rest
