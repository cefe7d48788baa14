"""A check-in started without a network (no Kivy): the challenge kept on the phone is
used, the frames are stamped from the capture, and frames then check-in are queued as
one kind so the outbox delivers them in that order; the person sees one check-in."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from mobile.core.client import ApiProblem
from mobile.miniprograms.checkin.results import result_text
from mobile.miniprograms.checkin.service import CHECKINS, OFFLINE_KEY, CheckinService
from tests.mobile.test_checkin_service import Clock, core, tr  # noqa: F401

ANSWER = {"challenge_id": "a" * 32, "nonce": "n" * 43, "purpose": "checkin_offline",
          "actions": ["blink", "nod"], "expires_in": 72 * 3600}


def test_offline_the_kept_challenge_is_used_and_queued_with_its_frames(core):  # noqa: F811
    clock = Clock()
    core.frames._clock = clock
    core.keystore.put("access_token", b"signed-in-earlier")  # a session, no network
    service = CheckinService(core, clock=clock, sleep=clock.sleep)
    assert service.keep_offline_challenge() is False  # offline: nothing to fetch
    service.remember_offline(ANSWER)
    assert service.keep_offline_challenge() is True  # one is kept: no request
    assert b"nonce" not in core.keystore.path.read_bytes()  # sealed at rest

    challenge = service.start_challenge()  # the server cannot be reached
    assert challenge.offline and challenge.id == ANSWER["challenge_id"]
    assert challenge.actions == ("blink", "nod")
    clock.sleep(5 * 3600)  # captured hours later, in the dead zone
    shots = service.capture(challenge, lambda _i, _f: None)
    item_id = service.queue_offline(7, challenge, shots, core.location.advance(), {})
    assert core.keystore.get(OFFLINE_KEY) is None  # used up

    frames_item, checkin_item = core.outbox.pending()  # FIFO: frames first, same kind
    assert (frames_item.kind, checkin_item.kind) == ("checkin", "checkin")
    assert frames_item.path == f"/api/biometrics/challenges/{challenge.id}/frames"
    assert checkin_item.path == CHECKINS and checkin_item.id == item_id
    body = frames_item.json()
    assert body["nonce"] == ANSWER["nonce"] and "sent_ms" not in body
    assert datetime.fromisoformat(body["captured_at"]) == shots[0].timestamp
    assert [f["t_ms"] for f in body["frames"]] == [100 * i for i in range(len(shots))]
    assert checkin_item.json()["challenge_id"] == challenge.id

    # The person sees one check-in waiting, said to be offline-made.
    assert [p.id for p in core.pending_items()] == [item_id]
    assert [i.id for i in service.history()] == [item_id]
    delivery = service.deliver(item_id)
    assert delivery.state == "pending" and delivery.offline
    assert result_text(tr, delivery)[3] == "checkin.result.pending.offline"
    # With no kept challenge left, an offline start says there is no network.
    with pytest.raises(ApiProblem) as caught:
        service.start_challenge()
    assert caught.value.offline


def test_a_kept_challenge_near_its_end_is_not_used(core):  # noqa: F811
    clock = Clock()
    service = CheckinService(core, clock=clock, sleep=clock.sleep)
    service.remember_offline(ANSWER)
    clock.sleep(timedelta(hours=71, minutes=30).total_seconds())
    assert service.kept_challenge() is None
    assert service.keep_offline_challenge() is False  # offline: none to replace it
