"""The app opened in a dead zone still knows the subject's case (so a check-in can be
made with the kept offline challenge); the remembered case is sealed on the phone and
forgotten once the server says there is no open case."""

from __future__ import annotations

from mobile.miniprograms.checkin.service import CASE_KEY, CheckinService
from mobile.ui.core_wiring import AppCore
from tests.mobile.test_checkin_offline_live import _case
from tests.support import logged_in

DEAD = "http://127.0.0.1:9"


def test_the_last_known_case_serves_a_phone_that_opens_offline(app, demo, live_server,
                                                                 tmp_path):
    case_id = _case(app)
    core = AppCore.open(live_server, tmp_path / "profile")
    core.activate(demo["subject"])
    online = CheckinService(core).my_case()
    assert online["case_id"] == case_id and "cached" not in online
    core.close()

    # The phone restarts in a dead zone: a new process, only what is on disk.
    again = AppCore.open(DEAD, tmp_path / "profile")
    offline = CheckinService(again).my_case()
    assert offline["cached"] is True and offline["case_id"] == case_id
    assert offline["case_number"] == online["case_number"]
    stored = b"".join(p.read_bytes() for p in (tmp_path / "profile").iterdir() if p.is_file())
    assert online["case_number"].encode() not in stored  # sealed, like everything else
    again.close()

    # Online again after the case was closed: the remembered case is forgotten.
    officer = logged_in(app, "officer")
    closed = officer.signed("PATCH", f"/api/supervision/cases/{case_id}", {"status": "closed"})
    assert closed.status_code == 200, closed.get_json()
    back = AppCore.open(live_server, tmp_path / "profile")
    service = CheckinService(back)
    try:
        service.my_case()
        raise AssertionError("a closed case must not be served")
    except Exception as exc:  # noqa: BLE001 - the ApiProblem's status is what counts
        assert getattr(exc, "status", None) == 404, exc
    assert back.keystore.get(CASE_KEY) is None
    back.close()
