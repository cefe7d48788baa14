"""A case file on the officer's phone: every item filed with the case, one at a time.

Each view of a photo is an audited evidence view, so a photo's viewer copy is fetched
only when its slide is shown, and kept (decoded, in memory) while the popup is open:
swiping back costs no second download and no second view. PDFs, recordings and
videos are described, never fetched: the phone does not open them, so no view of
them is recorded. Nothing is written to the phone's storage.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kivy.app import App
from kivy.properties import BooleanProperty, DictProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.popup import Popup

from mobile.miniprograms.supervise import words
from mobile.miniprograms.supervise.images import texture_of, viewer_copy
from mobile.ui.async_work import run_async
from mobile.ui.screen import load_kv_once

KV = Path(__file__).with_suffix(".kv")
NOT_SHOWN = -1


def shown_here(item: dict[str, Any]) -> bool:
    """A photo with a viewer copy; an original (metadata and all) is never fetched here."""
    return words.evidence_kind(item.get("content_type")) == "photo" and bool(
        item.get("viewer_copy"))


class CaseFileItem(BoxLayout):
    """What every slide says about its item: kind, size, when it was filed."""

    item = DictProperty({})
    kind = StringProperty("file")
    size_text = StringProperty("")
    filed = ObjectProperty(None, allownone=True)  # an aware datetime, shown in local time

    def __init__(self, item: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(item=item, kind=words.evidence_kind(item.get("content_type")),
                         size_text=words.file_size(item.get("size")),
                         filed=words.parse_time(item.get("completed_at")
                                                or item.get("created_at")), **kwargs)


class CaseFilePhoto(CaseFileItem):
    texture = ObjectProperty(None, allownone=True)
    loading = BooleanProperty(False)
    failed = BooleanProperty(False)


class CaseFileCard(CaseFileItem):
    """A file the phone cannot open: described, not fetched."""


class CaseFilePopup(Popup):
    position = StringProperty("")  # "2 / 5"

    def __init__(self, items: list[dict[str, Any]], purpose: str, **kwargs: Any) -> None:
        load_kv_once(KV)  # before the widget is built, so its rule applies
        super().__init__(**kwargs)
        self.purpose = purpose
        # Read by the worker thread, so a plain attribute rather than a Kivy property.
        self.showing = NOT_SHOWN
        slides = self.ids.slides
        for item in items:
            slides.add_widget(CaseFilePhoto(item) if shown_here(item) else CaseFileCard(item))
        slides.bind(index=lambda *_: self.show_current())
        self.show_current()

    def show_current(self) -> None:
        slides = self.ids.slides
        index = slides.index or 0
        self.position = f"{index + 1} / {len(slides.slides)}"
        self.showing = index
        slide = slides.current_slide
        if isinstance(slide, CaseFilePhoto) and slide.texture is None and not slide.loading:
            self._fetch(index, slide)

    def _fetch(self, index: int, slide: CaseFilePhoto) -> None:
        slide.loading, slide.failed = True, False
        core, evidence_id, purpose = App.get_running_app().core, slide.item["id"], self.purpose

        def fetch() -> bytes | None:
            # The worker runs calls in order: by its turn the officer may have swiped on
            # or closed the file, and a photo no longer on show is not viewed.
            if self.showing != index:
                return None
            return viewer_copy(core, evidence_id, purpose)

        run_async(fetch, lambda data: self._fetched(slide, data),
                  lambda error: self._failed(slide, error))

    def _fetched(self, slide: CaseFilePhoto, data: bytes | None) -> None:
        slide.loading = False
        if data is not None:
            slide.texture = texture_of(data, str(slide.item.get("content_type")))
        elif slide is self.ids.slides.current_slide and self.showing != NOT_SHOWN:
            self.show_current()  # skipped, but the officer swiped back to it meanwhile

    def _failed(self, slide: CaseFilePhoto, error: BaseException) -> None:
        slide.loading, slide.failed = False, True  # showing it again tries again
        App.get_running_app().show_problem(error, "supervise.action.casefile_photo")

    def on_dismiss(self) -> None:
        self.showing = NOT_SHOWN  # a fetch still queued is dropped: nothing more is viewed
