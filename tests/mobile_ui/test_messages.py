"""The sentences people read when something is waiting or went wrong (no window needed)."""

from __future__ import annotations

from datetime import UTC, datetime

from mobile.core.client import ApiProblem
from mobile.ui.core_wiring import PendingItem
from mobile.ui.i18n import Catalog
from mobile.ui.messages import Tr, describe_pending, offline_text, problem_text

CATALOG = Catalog()
EN, ZH = Tr(CATALOG.tr, "en"), Tr(CATALOG.tr, "zh_CN")
AT = datetime(2026, 3, 1, 6, 30, tzinfo=UTC)


def item(kind: str = "checkin", state: str = "pending") -> PendingItem:
    return PendingItem("0" * 32, kind, AT, state, None)


def test_nothing_pending_says_nothing():
    assert describe_pending(EN, []) == ("", "")


def test_waiting_and_refused_items_are_named_with_their_time():
    waiting, refused = describe_pending(EN, [item(), item("location_batch"),
                                             item(state="rejected")])
    assert waiting.startswith("Not sent yet (2): check-in (")
    assert "location points (" in waiting
    assert refused.startswith("Refused by the server (1): check-in (")


def test_a_long_queue_is_summarised():
    waiting, _ = describe_pending(ZH, [item()] * 5)
    assert waiting.startswith("还有5项未发送") and "等另外2项" in waiting


def test_offline_names_what_did_not_happen_and_what_was_kept():
    text = offline_text(EN, [item()], "action.create_account")
    assert text.startswith("No connection. Could not create the account;")
    assert "Kept on this phone, to be sent when the network returns: check-in (" in text
    assert offline_text(ZH, [], None) == "没有网络。目前没有待发送的内容。"


def test_server_reasons_and_fields_are_translated():
    taken = ApiProblem(409, "That username is taken.", errors={"username": ["taken"]})
    assert problem_text(ZH, taken, []) == "该用户名已被使用，请换一个。"
    invalid = ApiProblem(422, "Unprocessable Entity",
                         errors={"json": {"id_number": ["18-character resident ID"]}})
    assert problem_text(EN, invalid, []) == "Please check: ID number."
    wrong = ApiProblem(401, "Bad credentials", reason="bad_credentials")
    assert problem_text(ZH, wrong, []) == "用户名或密码错误。"


def test_an_unknown_problem_falls_back_to_the_servers_words():
    odd = ApiProblem(418, "I am a teapot.")
    assert problem_text(EN, odd, []) == "I am a teapot."
