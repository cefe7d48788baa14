"""Kv pitfalls that fail silently, caught before they reach a screen."""

from __future__ import annotations

import re
from pathlib import Path

MOBILE = Path(__file__).resolve().parents[2] / "mobile"
KV_FILES = sorted(MOBILE.rglob("*.kv"))
# `root.account.get("x")` is never re-evaluated when root.account changes (Kivy does not
# bind a chain that ends in a call); `pick(root.account, "x")` is.
UNBOUND_GET = re.compile(r"\b(?:root|app|self)\.\w+\.get\(")


def test_there_are_kv_files_one_per_screen():
    assert len(KV_FILES) >= 8


def test_no_kv_expression_reads_a_property_through_get():
    offenders = [f"{path.relative_to(MOBILE)}:{n}" for path in KV_FILES
                 for n, line in enumerate(path.read_text().splitlines(), 1)
                 if UNBOUND_GET.search(line)]
    assert offenders == []


def test_no_two_kv_files_define_a_rule_for_the_same_class():
    # Kivy applies a `<Name>:` rule to every class called Name, whichever package it
    # lives in: two mini-programs that each had a TravelScreen got each other's
    # widgets. A mini-program's class names must be unique across the app.
    rule = re.compile(r"^<([A-Za-z_][\w]*)>:", re.M)
    owners: dict[str, list[str]] = {}
    for path in KV_FILES:
        for name in rule.findall(path.read_text()):
            owners.setdefault(name, []).append(str(path.relative_to(MOBILE)))
    assert {n: p for n, p in owners.items() if len(p) > 1} == {}
