"""/api/auth/refresh is limited per device (the DPoP proof's key), not per address:
behind carrier-grade NAT hundreds of phones share one address. A generous per-address
ceiling still stops a flood (one that invents a new key for every request)."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from server.identity.routes import REFRESH_ADDRESS_LIMIT, REFRESH_DEVICE_LIMIT
from tests.support import Phone

DEVICE_MAX = int(REFRESH_DEVICE_LIMIT.split()[0])
ADDRESS_MAX = int(REFRESH_ADDRESS_LIMIT.split()[0])


def _reset_limits(app) -> None:
    from server.extensions import limiter

    with app.app_context():
        limiter.reset()


def _phones(app, count: int) -> list[Phone]:
    """`count` devices of one account, as many phones behind one address."""
    phones = []
    for i in range(count):
        if i % 4 == 0:
            _reset_limits(app)  # logins are limited per address and per username
        phone = Phone(app)
        assert phone.login("officer").status_code == 200
        phones.append(phone)
    _reset_limits(app)
    return phones


def test_phones_behind_one_address_refresh_past_the_old_per_address_limit(app, demo):
    phones = _phones(app, DEVICE_MAX + 5)
    statuses = [p.refresh().status_code for p in phones]
    assert statuses == [200] * len(phones)


def test_one_device_is_limited_and_the_others_are_not(app, demo):
    busy, other = _phones(app, 2)
    statuses = [busy.refresh().status_code for _ in range(DEVICE_MAX + 1)]
    assert statuses[:DEVICE_MAX] == [200] * DEVICE_MAX
    refused = busy.refresh()
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert set(refused.get_json()) == {"code", "status", "message", "errors"}
    assert other.refresh().status_code == 200  # same address, another device


def test_a_flood_with_a_new_key_each_time_meets_the_address_ceiling(app, demo):
    _reset_limits(app)
    token = "x" * 43  # nobody's refresh token
    statuses = [Phone(app, Ed25519PrivateKey.generate()).refresh(token).status_code
                for _ in range(ADDRESS_MAX + 1)]
    assert set(statuses[:ADDRESS_MAX]) == {401}  # each new key passes its own limit
    assert statuses[-1] == 429
