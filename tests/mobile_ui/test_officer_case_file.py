"""The officer reads a case file on the phone: every item, one at a time. A photo is
fetched (an audited view) only when its slide is shown and kept while the file is open;
a PDF is described and never fetched. Real server, real widgets, the real audit log."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from mobile.miniprograms.supervise.casework import case_ref
from mobile.miniprograms.supervise.words import file_size
from server.audit.models import AuditEntry
from server.extensions import db
from tests.evidence.phone_side import pdf_bytes
from tests.mobile_ui.flows import open_tab, sign_in
from tests.mobile_ui.officer_flows import case_card, open_case, popup, shot

FACES = Path(__file__).resolve().parents[1] / "fixtures" / "faces"
PHOTOS = (FACES / "obama.jpg", FACES / "biden.jpg")  # 910x1137 and 970x2204: told apart
PDF = pdf_bytes(3 * 4096 + 500)


def _views(app, filed: list[str]) -> list[tuple[str, str | None]]:
    """The evidence.view entries of the case's items, oldest first."""
    with app.app_context():
        return [(e.target_id, e.purpose) for e in db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "evidence.view",
                                     AuditEntry.target_id.in_(filed))
            .order_by(AuditEntry.seq))]


def _file(officer, case_id: int) -> list[str]:
    """Two photos and a PDF, sealed and sent by the officer's phone as it files any
    evidence (the server checks each type by content: real JPEG and PDF bytes)."""
    queue = officer.app.core.evidence
    filed = []
    for data, kind in ((PHOTOS[0].read_bytes(), "image/jpeg"),
                       (PHOTOS[1].read_bytes(), "image/jpeg"), (PDF, "application/pdf")):
        object_id = queue.seal(data, kind, case_ref(case_id))
        assert queue.upload(object_id)["state"] == "complete"
        filed.append(object_id)
    return filed



def test_the_case_file_fetches_each_photo_once_when_shown_and_never_the_pdf(
        app, live_server, demo, start_phone):
    case_id = open_case(app)
    officer = start_phone(live_server, "officer", lang="en")
    sign_in(officer, "officer")
    first, second, pdf = filed = _file(officer, case_id)
    cases = open_tab(officer, "supervise.cases")
    officer.tap(case_card(officer, cases, case_id))
    case = officer.wait_screen("supervise.case")
    assert case.ids.photos.text == "Case file"

    officer.tap(case.ids.photos)
    shown = popup(officer, "CaseFilePopup")
    slides = shown.ids.slides
    photo = officer.wait(lambda: slides.slides[0].texture, "the first photo")
    officer.settle()
    assert shown.ids.position.text == "1 / 3" and len(slides.slides) == 3
    assert tuple(photo.size) == (910, 1137)  # decoded in memory, the first one filed
    assert slides.slides[1].texture is None  # not shown, so not fetched
    assert _views(app, filed) == [(first, "case file review")]
    assert shown.ids.previous.disabled and not shown.ids.next.disabled
    shot(officer, "60-officer-case-file-photo")

    officer.tap(shown.ids.next)
    officer.wait(lambda: slides.slides[1].texture, "the second photo")
    officer.settle()
    assert shown.ids.position.text == "2 / 3"
    assert tuple(slides.slides[1].texture.size) == (970, 2204)
    assert [v for v, _ in _views(app, filed)] == [first, second]

    officer.tap(shown.ids.previous)  # back: kept in memory, neither fetched nor viewed again
    officer.wait(lambda: shown.ids.position.text == "1 / 3", "the first photo again")
    officer.settle()
    assert slides.slides[0].texture is photo
    assert [v for v, _ in _views(app, filed)] == [first, second]

    officer.swipe(slides, -slides.width * 0.6)  # the finger does what the button does
    officer.wait(lambda: shown.ids.position.text == "2 / 3", "a swipe to the second")
    officer.tap(shown.ids.next)
    officer.wait(lambda: shown.ids.position.text == "3 / 3", "the PDF")
    officer.settle()
    card = slides.slides[2]
    assert card.ids.kind.text == "PDF document"
    assert card.ids.size.text == f"Size: {file_size(len(PDF))}" == "Size: 12.5 KB"
    assert card.ids.filed.text.startswith("Filed ")
    assert "cannot be opened on the phone" in " ".join(officer.texts())
    assert "recorded as a view" in " ".join(officer.texts())  # the note stays on show
    assert shown.ids.next.disabled
    assert [v for v, _ in _views(app, filed)] == [first, second]  # the PDF: no view
    assert pdf not in [v for v, _ in _views(app, filed)]
    shot(officer, "61-officer-case-file-pdf")
