"""Sentences a person reads: what is waiting in the outbox, what went wrong, what was kept.

No Kivy: `tr(key, **params)` is the app's translator bound to the current language.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mobile.core.client import ApiProblem
from mobile.ui.core_wiring import PendingItem
from mobile.ui.i18n import format_time


@dataclass(frozen=True)
class Tr:
    """The app's `tr(key, lang, **params)` bound to one language."""

    translate: Callable[..., str]
    lang: str

    def __call__(self, key: str, **params: Any) -> str:
        return self.translate(key, self.lang, **params)


SHOWN_ITEMS = 3  # a banner, not a report: the rest is "and N more"
KNOWN_REASONS = ("bad_credentials", "totp_required", "bad_activation_code", "account_disabled",
                 "device_revoked", "session_ended", "refresh_reuse", "role", "self",
                 "password_role")
BY_STATUS = {403: "problem.forbidden", 404: "problem.not_found", 409: "problem.conflict",
             429: "problem.too_many"}
FIELD_NAMES = ("username", "display_name", "id_number", "password", "purpose", "reason",
               "activation_code", "totp", "role")


def _listing(tr: Tr, items: list[PendingItem]) -> str:
    shown = [tr("pending.item", what=tr(f"pending.kind.{i.kind}"),
                when=format_time(i.capture_time, tr.lang)) for i in items[:SHOWN_ITEMS]]
    text = tr("list.separator").join(shown)
    if len(items) > SHOWN_ITEMS:
        text += tr("pending.more", count=len(items) - SHOWN_ITEMS)
    return text


def describe_pending(tr: Tr, items: Iterable[PendingItem]) -> tuple[str, str]:
    """(waiting, refused) sentences; empty strings when there is nothing to say."""
    items = list(items)
    waiting = [i for i in items if i.state in ("pending", "sending")]
    refused = [i for i in items if i.state == "rejected"]
    return (tr("pending.waiting", count=len(waiting), items=_listing(tr, waiting))
            if waiting else "",
            tr("pending.refused", count=len(refused), items=_listing(tr, refused))
            if refused else "")


def offline_text(tr: Tr, pending: list[PendingItem], action_key: str | None) -> str:
    """What a person needs when the network is gone: exactly what was kept, or that the
    action did not happen (it was not an outbox action, so nothing was kept)."""
    kept = [i for i in pending if i.state in ("pending", "sending")]
    parts = [tr("offline.no_connection")]
    if action_key:
        parts.append(tr("offline.not_done", action=tr(action_key)))
    if kept:
        parts.append(tr("offline.kept", items=_listing(tr, kept)))
    elif not action_key:
        parts.append(tr("offline.nothing_waiting"))
    return tr("sentence.separator").join(parts)


def _fields(errors: Mapping[str, Any]) -> list[str]:
    """Field names from the envelope's errors ({"json": {"username": [...]}} or flat)."""
    names: list[str] = []
    for key, value in errors.items():
        if key == "reason":
            continue
        if key in ("json", "query", "form") and isinstance(value, Mapping):
            names.extend(_fields(value))
        else:
            names.append(key)
    return names


def problem_text(tr: Tr, problem: ApiProblem, pending: list[PendingItem],
                 action_key: str | None = None) -> str:
    if problem.offline:
        return offline_text(tr, pending, action_key)
    if problem.reason in KNOWN_REASONS:
        return tr(f"problem.{problem.reason}")
    fields = _fields(problem.errors)
    if problem.status == 409 and "username" in fields:
        return tr("problem.username_taken")
    if problem.status in (400, 409, 422) and fields:
        return tr("problem.check_fields", fields=tr("list.separator").join(
            tr(f"field.{f}") if f in FIELD_NAMES else f for f in fields))
    if problem.status in BY_STATUS:
        return tr(BY_STATUS[problem.status])
    if problem.status >= 500:
        return tr("problem.server")
    return problem.human()  # the server's own words, better than nothing


