"""The one Idempotency-Key mechanism (server/api/idempotency.py) as the phone meets it
on check-ins and ping batches. Concurrency (409 while running, the database as the
backstop after a Redis loss) is proven over real HTTP in tests/reliability."""

from __future__ import annotations

from datetime import timedelta

from tests.supervision.helpers import HOME, fix, new_id


def _records(app, key):
    from server.api.idempotency import IdempotencyRecord
    from server.extensions import db

    with app.app_context():
        return [(r.endpoint, r.status) for r in db.session.scalars(
            db.select(IdempotencyRecord).where(IdempotencyRecord.key == key))]


def _batch(world, key, fixes, **headers):
    return world.subject.post("/api/supervision/locations", {
        "case_id": world.case_id, "batch_id": key, "fixes": fixes}, headers=headers)


def test_the_header_names_the_same_record_as_the_body_id(world):
    key, t = new_id(), world.clock.at - timedelta(minutes=5)
    fixes = [fix(*HOME, t)]
    first = _batch(world, key, fixes, **{"Idempotency-Key": key})
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    again = _batch(world, key, fixes, **{"Idempotency-Key": f'"{key}"'})  # an sf-string
    assert again.status_code == 201 and again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    no_header = _batch(world, key, fixes)
    assert no_header.get_json() == first.get_json()
    assert _records(world.app, key) == [("supervision.locations", 201)]


def test_a_header_that_disagrees_with_the_body_id_is_a_400(world):
    key = new_id()
    response = _batch(world, key, [fix(*HOME, world.clock.at)],
                      **{"Idempotency-Key": new_id()})
    assert response.status_code == 400
    assert response.get_json()["errors"]["reason"] == "idempotency_key_mismatch"
    bad = _batch(world, key, [fix(*HOME, world.clock.at)], **{"Idempotency-Key": "a b;c"})
    assert bad.status_code == 400
    assert bad.get_json()["errors"]["reason"] == "idempotency_key_invalid"
    assert _records(world.app, key) == []


def test_a_refusal_that_stored_nothing_leaves_the_key_free(world):
    """A 422 before any effect is not an answer to keep: the corrected body, sent
    again under the same key, is executed (not refused as another payload)."""
    key = new_id()
    ahead = _batch(world, key, [fix(*HOME, world.clock.at + timedelta(days=2))])
    assert ahead.status_code == 422 and "Idempotent-Replayed" not in ahead.headers
    assert _records(world.app, key) == []
    fixed = _batch(world, key, [fix(*HOME, world.clock.at)])
    assert fixed.status_code == 201, fixed.get_json()
    assert _records(world.app, key) == [("supervision.locations", 201)]


def test_keys_are_scoped_by_endpoint(world):
    """The same key on another endpoint is another record (the check-in route's
    own refusal, for an unknown challenge, is not mistaken for a replay)."""
    key, t = new_id(), world.clock.at - timedelta(minutes=5)
    assert _batch(world, key, [fix(*HOME, t)]).status_code == 201
    checkin = world.subject.post("/api/supervision/checkins", {
        "id": key, "case_id": world.case_id, "challenge_id": new_id(),
        "captured_at": t.isoformat(),
        "fix": {"lat": HOME[0], "lon": HOME[1], "captured_at": t.isoformat(),
                "accuracy_m": 6.0}})
    assert checkin.status_code == 404, checkin.get_json()  # no such challenge
    assert _records(world.app, key) == [("supervision.locations", 201)]
