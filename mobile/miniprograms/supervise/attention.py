"""Check-ins that need a person's look (late, flagged, borderline face, outside a zone,
asked for help), each with its reasons in words. An officer reviews one: the face was
compared by eye (or not), with a note. Prosecutors read the queue only.

When the deployment keeps the frames of a doubtful face (server.evidence.frames), the
card offers them: three frames, fetched as audited evidence views (metadata-free
copies) and shown in a popup, never written to the phone's storage."""

from __future__ import annotations

from typing import Any

from kivy.properties import DictProperty, ListProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from mobile.miniprograms.supervise import casework, words
from mobile.miniprograms.supervise.buttons import action_button
from mobile.miniprograms.supervise.feed import FeedScreen
from mobile.miniprograms.supervise.images import ImagesPopup, evidence_images
from mobile.ui.core_wiring import AppCore
from mobile.ui.dialogs import ask_reason

FACE_PURPOSE = "face review of a check-in"  # staff state one for every evidence view


def face_frames(core: AppCore, case_ref: str) -> list[bytes]:
    """The kept frames' viewer copies, in capture order."""
    return evidence_images(core, case_ref, FACE_PURPOSE)


class CheckinCard(BoxLayout):
    checkin = DictProperty({})
    person = StringProperty("")
    case_text = StringProperty("")
    when = StringProperty("")
    reasons = StringProperty("")
    status_level = StringProperty("grey")
    status_text = StringProperty("")


class AttentionScreen(FeedScreen):
    checkins = ListProperty([])
    cases = DictProperty({})
    faces_popup = ObjectProperty(None, allownone=True)  # the last one opened

    def fetch(self, core: AppCore) -> Any:
        return casework.attention(core)

    def show(self, result: tuple[list[dict[str, Any]], dict[int, dict[str, Any]]]) -> None:
        self.checkins, self.cases = result

    def _render(self) -> None:
        box = self.ids.queue
        box.clear_widgets()
        for checkin in self.checkins:
            case = self.cases.get(checkin.get("case_id"), {})
            status = checkin.get("status", "")
            card = CheckinCard(
                checkin=checkin,
                person=case.get("subject_name", "?"),
                case_text=self.tr("supervise.alerts.case", case=case.get(
                    "case_number", checkin.get("case_id"))),
                when=self.tr("supervise.attention.when",
                             age=words.age(self.tr, checkin.get("captured_at"))),
                reasons="\n".join("• " + words.attention_reason(self.tr, r)
                                  for r in checkin.get("attention_reasons") or []),
                status_level={"ok": "green", "late": "yellow"}.get(status, "red"),
                status_text=self.tr(f"supervise.checkin.{status}") if status in
                ("ok", "late", "failed", "unscheduled") else status)
            if self.can_write:
                for name, confirmed in (("confirm", True), ("doubt", False)):
                    card.ids.actions.add_widget(action_button(
                        self.tr(f"supervise.review.{name}"), name,
                        lambda c=checkin, ok=confirmed: self.review(c, ok)))
            if checkin.get("face_frames"):  # absent where the deployment keeps none
                card.ids.views.add_widget(action_button(
                    self.tr("supervise.faces.show"), "faces",
                    lambda ref=checkin["face_frames"]: self.show_faces(ref)))
            box.add_widget(card)
        self.ids.summary.text = self.tr("supervise.attention.count", count=len(self.checkins))

    def show_faces(self, case_ref: str) -> None:
        self.call(lambda: face_frames(self.core, case_ref), self._faces,
                  "supervise.action.faces")

    def _faces(self, jpegs: list[bytes]) -> None:
        popup = ImagesPopup()
        popup.show_frames(jpegs)
        popup.open()
        self.faces_popup = popup

    def review(self, checkin: dict[str, Any], confirmed: bool) -> None:
        ask_reason("supervise.review.title", "supervise.review.prompt",
                   "supervise.review.confirm" if confirmed else "supervise.review.doubt",
                   lambda note: self.call(
                       lambda: casework.review(self.core, checkin["id"], confirmed, note),
                       lambda _: self._done(), "supervise.action.review"))

    def _done(self) -> None:
        self.app.toast(self.tr("supervise.review.done"))
        self.reload()
