"""Both languages say everything: same keys, every key the code names exists, no
mini-program can overwrite another's strings. Plain pytest: no window needed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mobile.ui.i18n import LANGUAGES, Catalog, load_dir
from mobile.ui.registry import discover

MOBILE = Path(__file__).resolve().parents[2] / "mobile"
SOURCES = [p for folder in ("ui", "miniprograms") for p in (MOBILE / folder).rglob("*")
           if p.suffix in (".py", ".kv")]
LITERAL = re.compile(r"""["']([a-z_]+(?:\.[a-z0-9_]+)+)["']""")
FORMAT_FIELD = re.compile(r"\{(\w*)\}")


def full_catalog() -> Catalog:
    catalog = Catalog()
    for program in discover():
        catalog.merge(program.strings, program.name)
    return catalog


def test_shell_catalogues_have_the_same_keys():
    shell = load_dir(MOBILE / "i18n")
    assert set(shell["zh_CN"]) == set(shell["en"])


@pytest.mark.parametrize("program", discover(), ids=lambda p: p.name)
def test_each_miniprogram_has_the_same_keys_in_both_languages(program):
    keys = [set(program.strings.get(lang, {})) for lang in LANGUAGES]
    assert keys[0] and keys[0] == keys[1]


def test_translations_take_the_same_parameters():
    catalog = full_catalog()
    for key, english in catalog.strings["en"].items():
        chinese = catalog.strings["zh_CN"][key]
        assert set(FORMAT_FIELD.findall(english)) == set(FORMAT_FIELD.findall(chinese)), key


def test_every_key_the_code_names_exists():
    catalog = full_catalog()
    namespaces = {key.split(".")[0] for key in catalog.strings["en"]}
    screen_ids = {p.screen_id(s.name) for p in discover() for s in p.screens}
    missing = set()
    for path in SOURCES:
        for key in LITERAL.findall(path.read_text(encoding="utf-8")):
            if key.split(".")[0] in namespaces and key not in screen_ids \
                    and not catalog.has(key):
                missing.add(f"{path.relative_to(MOBILE)}: {key}")
    assert not missing, sorted(missing)


def test_a_miniprogram_cannot_overwrite_shell_strings():
    catalog = Catalog()
    with pytest.raises(ValueError):
        catalog.merge({"en": {"login.title": "hijacked"}}, "shop")


def test_a_missing_translation_falls_back_to_english_and_is_recorded():
    catalog = Catalog({"en": {"a.b": "Hello {name}"}, "zh_CN": {}})
    assert catalog.tr("a.b", "zh_CN", name="Li") == "Hello Li"
    assert catalog.missed == {("zh_CN", "a.b")}


def test_keys_built_at_run_time_exist_for_every_value():
    from mobile.core.outbox import KINDS, STATES
    from mobile.ui.messages import FIELD_NAMES, KNOWN_REASONS
    from shared.enums import Role

    catalog = full_catalog()
    built = ([f"pending.kind.{k}" for k in KINDS] + [f"role.{r.value}" for r in Role]
             + [f"problem.{r}" for r in KNOWN_REASONS] + [f"field.{f}" for f in FIELD_NAMES]
             + [f"checkin.outbox.state.{s}" for s in STATES if s != "delivered"]
             + [f"supervise.{kind}.{role}" for kind in ("count", "empty")
                for role in ("subject", "resident")]
             + [f"supervise.device.{s}" for s in ("active", "revoked")])
    assert [key for key in built if not catalog.has(key)] == []
