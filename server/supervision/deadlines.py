"""Due deadlines in a Redis sorted set (score = due time, epoch seconds).

Members are deterministic strings ("window|12|2026-11-26"), so scheduling the
same deadline twice is one entry, and a rebuild from the database can re-add
everything without duplicates.

Popping is one Lua script, atomic in Redis: it takes the due members (the
lowest ranks, so a rank-range delete removes exactly them) and moves them to a
lease set with a lease expiry. Two workers can never pop the same member. A
worker acks a member when done; a worker that dies leaves the lease to expire
and `reap` puts the member back. The alert table's unique key on (case, rule,
occurrence) covers the one remaining window: a lease that expired while a slow
worker was still finishing. The cost is O(log N + due), so a sweep grows with
the number of due deadlines, not with the number scheduled.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from server.extensions import get_redis

QUEUE = "sup:deadlines"
LEASES = "sup:deadlines:leases"
BUILT = "sup:deadlines:built"  # gone after a Redis restart: the worker rebuilds
MAX_POP = 1000  # Lua's unpack() takes a few thousand arguments at most

_POP = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
if #due > 0 then
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, #due - 1)
  local args = {}
  for _, m in ipairs(due) do
    args[#args + 1] = ARGV[3]
    args[#args + 1] = m
  end
  redis.call('ZADD', KEYS[2], unpack(args))
end
return due
"""

_REAP = """
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, m in ipairs(gone) do
  redis.call('ZREM', KEYS[2], m)
  redis.call('ZADD', KEYS[1], ARGV[1], m)
end
return #gone
"""


def member(kind: str, *parts: object) -> str:
    return "|".join([kind, *(str(p) for p in parts)])


def schedule(name: str, at: datetime, *, prefix: str = "") -> None:
    get_redis().zadd(prefix + QUEUE, {name: at.timestamp()})


def schedule_many(items: Iterable[tuple[str, datetime]], *, prefix: str = "") -> int:
    mapping = {name: at.timestamp() for name, at in items}
    if mapping:
        get_redis().zadd(prefix + QUEUE, mapping)
    return len(mapping)


def pop_due(now: datetime, lease_s: float, limit: int = MAX_POP, *,
            prefix: str = "") -> list[str]:
    redis = get_redis()
    script = redis.register_script(_POP)
    raw = script(keys=[prefix + QUEUE, prefix + LEASES],
                 args=[now.timestamp(), min(limit, MAX_POP), now.timestamp() + lease_s])
    return [m.decode() if isinstance(m, bytes) else str(m) for m in raw]


def ack(names: Iterable[str], *, prefix: str = "") -> None:
    names = list(names)
    if names:
        get_redis().zrem(prefix + LEASES, *names)


def reap(now: datetime, limit: int = MAX_POP, *, prefix: str = "") -> int:
    """Return members whose lease ran out (their worker died) to the queue."""
    script = get_redis().register_script(_REAP)
    return int(script(keys=[prefix + QUEUE, prefix + LEASES],
                      args=[now.timestamp(), limit]))


def is_built(*, prefix: str = "") -> bool:
    return bool(get_redis().exists(prefix + BUILT))


def mark_built(now: datetime, *, prefix: str = "") -> None:
    get_redis().set(prefix + BUILT, now.isoformat())


def pending(*, prefix: str = "") -> list[tuple[str, float]]:
    """Everything queued, soonest first (tests and `flask worker --status`)."""
    raw: Any = get_redis().zrange(prefix + QUEUE, 0, -1, withscores=True)
    return [(m.decode() if isinstance(m, bytes) else str(m), float(s)) for m, s in raw]
