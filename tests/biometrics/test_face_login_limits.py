"""Face sign-in is limited per device key, not per address: phones behind carrier NAT
share one address. One device past its limit is refused; another beside it is not."""

from __future__ import annotations

from server.biometrics.routes import FACE_LIMIT
from tests.support import Phone

DEVICE_MAX = int(FACE_LIMIT.split()[0])


def test_one_device_past_its_limit_does_not_lock_out_its_neighbours(app, demo):
    noisy = Phone(app)  # not enrolled: its challenges are refused, and counted
    answers = [noisy.post("/api/auth/face/challenge", token="").status_code
               for _ in range(DEVICE_MAX + 1)]
    assert 429 not in answers[:DEVICE_MAX] and answers[-1] == 429, answers
    neighbour = Phone(app)  # the same (test client) address, another key
    assert neighbour.post("/api/auth/face/challenge", token="").status_code != 429
