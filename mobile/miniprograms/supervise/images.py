"""Evidence shown to staff: a check-in's kept face frames, a case file's items.

Fetched as audited evidence views (metadata-free viewer copies) and decoded in
memory for a popup, never written to the phone's storage. Used from more than one
screen, so the popup loads its own rules (images.kv) instead of a screen's.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from kivy.core.image import Image as CoreImage
from kivy.graphics.texture import Texture
from kivy.properties import StringProperty
from kivy.uix.image import Image
from kivy.uix.popup import Popup

from mobile.core.client import ApiProblem
from mobile.ui.core_wiring import AppCore
from mobile.ui.screen import load_kv_once

KV = Path(__file__).with_suffix(".kv")


def case_evidence(core: AppCore, case_ref: str, purpose: str) -> list[dict[str, Any]]:
    """What is filed under `case_ref` that I may read, in filing order (the listing is
    audited with `purpose`; nothing is downloaded). Blocks: run it off the UI thread."""
    try:
        return list(core.call("GET", "/api/evidence?" + urlencode(
            {"case_ref": case_ref, "purpose": purpose})))
    except ApiProblem as problem:
        if problem.status == 404:  # nothing filed that I may read (the server says no more)
            return []
        raise


def viewer_copy(core: AppCore, evidence_id: str, purpose: str) -> bytes:
    """One item's metadata-free viewer copy: an audited view on the server. Blocks."""
    view = urlencode({"purpose": purpose})
    return core.client.download(f"/api/evidence/{evidence_id}/content?{view}")


def evidence_images(core: AppCore, case_ref: str, purpose: str) -> list[bytes]:
    """The viewer copies of the images filed under `case_ref`, in the order they were
    filed; each view audited with `purpose`. Blocks: run through `call`."""
    return [viewer_copy(core, e["id"], purpose) for e in case_evidence(core, case_ref, purpose)
            if str(e.get("content_type", "")).startswith("image/")]


def texture_of(data: bytes, content_type: str = "image/jpeg") -> Texture:
    """Decoded in memory: a viewer copy never touches the phone's storage."""
    ext = "png" if content_type == "image/png" else "jpg"
    return CoreImage(io.BytesIO(data), ext=ext).texture


class ImagesPopup(Popup):
    """Images side by side for comparison: a check-in's face frames."""

    title_key = StringProperty("supervise.faces.title")
    note_key = StringProperty("supervise.faces.note")

    def __init__(self, **kwargs: Any) -> None:
        load_kv_once(KV)  # before the widget is built, so its rule applies
        super().__init__(**kwargs)

    def show_frames(self, jpegs: list[bytes]) -> None:
        box = self.ids.frames
        box.clear_widgets()
        for jpeg in jpegs:
            box.add_widget(Image(texture=texture_of(jpeg)))
