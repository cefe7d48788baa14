"""A font with Chinese glyphs, registered as Kivy's default so no label shows tofu.

Kivy ships Roboto only. Lookup order: SHOUWANG_FONT, system Simplified-Chinese fonts
(Android's own Noto CJK, Debian's fonts-noto-cjk / fonts-wqy-*), then the pip package
`cvttf-NotoSansCJK-Regular` (the `mobile` extra), which gives every fresh machine one.
Without any of them the app still starts, in Roboto, and logs what to install.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

SYSTEM_FONTS = (
    "/system/fonts/NotoSansCJK-Regular.ttc",  # Android 7+
    "/system/fonts/NotoSansSC-Regular.otf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",  # Debian fonts-noto-cjk
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",  # Debian fonts-wqy-microhei
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/System/Library/Fonts/PingFang.ttc",  # macOS
    "C:/Windows/Fonts/msyh.ttc",  # Windows: Microsoft YaHei
)
PIP_FONT_PACKAGE = "cvttf_NotoSansCJK_Regular"
FONT_EXTENSIONS = (".otf", ".ttf", ".ttc")


def _pip_font() -> str | None:
    spec = importlib.util.find_spec(PIP_FONT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        for path in sorted(Path(folder).iterdir()):
            if path.suffix.lower() in FONT_EXTENSIONS:
                return str(path)
    return None


def find_cjk_font() -> str | None:
    chosen = os.environ.get("SHOUWANG_FONT")
    if chosen and Path(chosen).is_file():
        return chosen
    for path in SYSTEM_FONTS:
        if Path(path).is_file():
            return path
    return _pip_font()


def install_cjk_font() -> str | None:
    """Register the CJK font under Kivy's default font name; returns its path."""
    from kivy.core.text import DEFAULT_FONT, LabelBase

    path = find_cjk_font()
    if path is None:
        log.warning("No Chinese font found: Chinese text will show as boxes. "
                    "pip install cvttf-NotoSansCJK-Regular or apt install fonts-wqy-microhei")
        return None
    # One file for all four styles: SDL_ttf synthesises bold, which is all we use.
    LabelBase.register(DEFAULT_FONT, path, path, path, path)
    return path
