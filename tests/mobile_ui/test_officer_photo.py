"""An officer photographs for a case file: the camera's frame is sealed on the phone and
filed under the case; without a network it stays sealed and goes with the next delivery.
Real server, real widgets, the file-fed camera."""

from __future__ import annotations

from pathlib import Path

import requests

from mobile.miniprograms.supervise.casework import case_ref
from tests.mobile_ui.flows import open_tab, sign_in
from tests.mobile_ui.officer_flows import case_card, open_case, popup
from tests.support import logged_in

PHOTO = Path(__file__).resolve().parents[1] / "fixtures" / "faces" / "obama.jpg"


def _filed(app, case_id: int) -> list[dict]:
    listed = logged_in(app, "officer").get(
        f"/api/evidence?case_ref={case_ref(case_id)}&purpose=case+review")
    assert listed.status_code == 200, listed.get_json()
    return listed.get_json()


def test_a_photo_is_sealed_on_the_phone_and_filed_with_the_case(app, live_server, demo,
                                                                 start_phone, tmp_path):
    case_id = open_case(app)
    camera = tmp_path / "camera"
    camera.mkdir()
    (camera / "frame_000.jpg").write_bytes(PHOTO.read_bytes())
    officer = start_phone(live_server, "officer", lang="en", frames_dir=str(camera))
    sign_in(officer, "officer")
    cases = open_tab(officer, "supervise.cases")
    officer.tap(case_card(officer, cases, case_id))
    case = officer.wait_screen("supervise.case")
    toast = officer.app.root.ids.toast
    officer.tap(case.ids.photos)  # nothing filed yet
    officer.wait(lambda: toast.shown and "Nothing has been filed" in toast.text,
                 "the empty case file")
    toast.hide()
    officer.tap(case.ids.photo)
    officer.wait(lambda: toast.shown and "filed with the case" in toast.text, "the photo")
    (filed,) = _filed(app, case_id)
    assert filed["content_type"] == "image/jpeg"

    # Offline: sealed and kept; the next delivery sends it.
    core = officer.app.core
    real_request = core.client.http.request

    def no_network(*args, **kw):
        raise requests.ConnectionError("no signal in the basement")

    core.client.http.request = no_network
    toast.hide()
    officer.tap(case.ids.photo)
    officer.wait(lambda: toast.shown and "when the network returns" in toast.text,
                 "the photo kept")
    assert len(core.evidence.pending()) == 1 and len(_filed(app, case_id)) == 1
    core.client.http.request = real_request
    delivered = core.deliver_outbox()
    assert delivered.delivered == 1 and core.evidence.pending() == []
    assert len(_filed(app, case_id)) == 2

    # The case file shows them one at a time (what is viewed when: test_officer_case_file).
    officer.tap(case.ids.photos)
    shown = popup(officer, "CaseFilePopup")
    first = officer.wait(lambda: shown.ids.slides.slides[0].texture, "the first photo")
    assert first.size[0] > 0 and shown.ids.position.text == "1 / 2"
    assert shown.title == "Case file"
