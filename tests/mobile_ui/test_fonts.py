"""Chinese must render as glyphs, not boxes: a CJK font is always found."""

from __future__ import annotations

from mobile.ui.fonts import find_cjk_font


def test_a_chinese_font_is_found():
    # On a fresh machine it comes from the `mobile` extra (cvttf-NotoSansCJK-Regular).
    assert find_cjk_font() is not None


def test_a_font_named_in_the_environment_wins(tmp_path, monkeypatch):
    chosen = tmp_path / "house-font.ttf"
    chosen.write_bytes(b"not really a font; only the lookup is tested")
    monkeypatch.setenv("SHOUWANG_FONT", str(chosen))
    assert find_cjk_font() == str(chosen)
