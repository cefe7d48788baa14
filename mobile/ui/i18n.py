"""Every user-visible string, in zh_CN and English, switchable at run time.

The shell's strings live in mobile/i18n/<lang>.json; each mini-program brings its own
(keys prefixed with its name) and they are merged into one catalogue. No Kivy here:
the app holds the current language in a Kivy property and calls `Catalog.tr`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

LANGUAGES = ("zh_CN", "en")
DEFAULT_LANGUAGE = "zh_CN"
SHELL_DIR = Path(__file__).resolve().parent.parent / "i18n"
log = logging.getLogger(__name__)

Strings = Mapping[str, Mapping[str, str]]  # language -> key -> text


def load_dir(folder: str | Path) -> dict[str, dict[str, str]]:
    """<folder>/<lang>.json for each language (a missing file is an empty catalogue)."""
    out: dict[str, dict[str, str]] = {}
    for lang in LANGUAGES:
        path = Path(folder) / f"{lang}.json"
        out[lang] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    return out


class Catalog:
    def __init__(self, strings: Strings | None = None) -> None:
        base = strings if strings is not None else load_dir(SHELL_DIR)
        self.strings: dict[str, dict[str, str]] = {lang: dict(base.get(lang, {}))
                                                   for lang in LANGUAGES}
        self.missed: set[tuple[str, str]] = set()  # (lang, key) asked for but absent

    def merge(self, strings: Strings, prefix: str) -> None:
        """Add a mini-program's strings; its keys must start with `prefix.` so two
        mini-programs (or one and the shell) can never overwrite each other."""
        for lang in LANGUAGES:
            for key, text in strings.get(lang, {}).items():
                if not key.startswith(prefix + "."):
                    raise ValueError(f"string {key!r} must start with {prefix!r}.")
                self.strings[lang][key] = text

    def has(self, key: str) -> bool:
        return all(key in self.strings[lang] for lang in LANGUAGES)

    def tr(self, key: str, lang: str, **params: Any) -> str:
        if not key:  # kv evaluates rules before a widget's text_key is set
            return ""
        text = self.strings.get(lang, {}).get(key)
        if text is None:  # show the English text (or the key) rather than nothing
            if (lang, key) not in self.missed:
                log.warning("missing %s string %r", lang, key)
            self.missed.add((lang, key))
            text = self.strings["en"].get(key, key)
        try:
            return text.format(**params) if params else text
        except (KeyError, IndexError, ValueError):
            log.warning("bad parameters for %r: %r", key, params)
            return text

    def missing(self) -> dict[str, set[str]]:
        """Keys some language lacks, by language (empty when the catalogues agree)."""
        every = set().union(*(self.strings[lang] for lang in LANGUAGES))
        return {lang: every - set(self.strings[lang]) for lang in LANGUAGES
                if every - set(self.strings[lang])}


def format_time(moment: datetime, lang: str) -> str:
    """Local wall-clock time the way each language writes it."""
    local = moment.astimezone()
    if lang == "zh_CN":
        return f"{local.month}月{local.day}日 {local:%H:%M}"
    return f"{local:%d %b %H:%M}"
