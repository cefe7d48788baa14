"""The shell as a person meets it: languages, mistakes, no network, a revoked phone."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

from tests.mobile_ui.flows import enroll, open_tab, sign_in, toggle_language
from tests.support import logged_in


def dead_server() -> str:
    """A local address nobody listens on: connection refused, like a phone offline."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_switching_language_rerenders_every_label(live_server, demo, start_phone):
    phone = start_phone(live_server, "officer", lang="en")
    login = phone.wait_screen("login")
    topbar = phone.app.root.ids.topbar
    english = (topbar.title, login.ids.sign_in.text, login.ids.mode_code.text)
    assert english == ("Sign in", "Sign in", "Activation code")
    toggle_language(phone)
    assert (topbar.title, login.ids.sign_in.text, login.ids.mode_code.text) == (
        "登录", "登录", "激活码登记")
    assert phone.app.core.pref("lang") == "zh_CN"  # the choice survives a restart
    phone.shot("11-login-zh")

    accounts = sign_in(phone, "officer")
    tab_texts = sorted(b.text for b in phone.app.root.ids.tabs.children)
    assert tab_texts == sorted(["人员", "告警", "待审", "案件", "新建", "我的"])
    phone.wait(lambda: accounts.ids.rows.data, "the list")
    assert accounts.ids.rows.data[0]["status_text"] == "正常"
    toggle_language(phone)
    assert sorted(b.text for b in phone.app.root.ids.tabs.children) == sorted(
        ["Alerts", "Cases", "Me", "New", "People", "Review"])
    assert accounts.ids.rows.data[0]["status_text"] == "Active"
    assert topbar.title == "People in my jurisdiction"
    assert phone.app.catalog.missed == set()


def test_a_wrong_password_is_explained_beside_the_fields(live_server, demo, start_phone):
    phone = start_phone(live_server, "officer", lang="en")
    login = sign_in(phone, "officer", "not-the-password")
    assert login.name == "login" and not phone.app.core.signed_in
    assert login.ids.message.text == "Wrong username or password."
    toggle_language(phone)
    assert login.ids.message.text == "用户名或密码错误。"
    phone.shot("12-login-wrong-password-zh")


def test_signing_out_asks_first_and_ends_the_session(live_server, demo, start_phone):
    phone = start_phone(live_server, "officer", lang="en")
    sign_in(phone, "officer")
    me = open_tab(phone, "supervise.me")
    assert "Username: officer" in phone.texts()
    phone.tap(me.ids.logout)
    popup = phone.wait(lambda: next((w for w in phone.walk()
                                     if type(w).__name__ == "ConfirmPopup"), None),
                       "the confirmation")
    phone.tap(popup.ids.confirm)
    phone.wait_screen("login")
    assert not phone.app.core.signed_in and phone.app.root.ids.tabs.tabs == []
    assert not phone.app.nav.manager.has_screen("supervise.accounts")  # nothing left behind


def test_offline_the_subject_sees_plainly_what_is_kept(live_server, demo, start_phone):
    phone = start_phone(live_server, "subject", lang="zh_CN")
    enroll(phone, demo["subject"])

    phone = start_phone(dead_server(), "subject", lang="zh_CN")  # same phone, no network
    home = phone.wait_screen("checkin.home")  # opened from the cached account
    assert "张三 Zhang San" in phone.texts()
    toast = phone.app.root.ids.toast
    assert toast.shown and toast.text.startswith("没有网络")

    # A check-in made earlier on this phone (the check-in screens come with their API).
    made = datetime.now(UTC)
    phone.app.core.outbox.enqueue("checkin", "POST", "/api/checkins",
                                  {"captured_at": made.isoformat()}, capture_time=made)
    phone.app.refresh_pending()
    banner = phone.app.root.ids.banner
    assert banner.waiting.startswith("还有1项未发送：报到签到（")
    assert (home.ids.outbox_status.level, home.ids.outbox_status.text) == ("yellow",
                                                                           "1项待发送")
    toast.hide()
    phone.tap(banner.ids.send_now)
    phone.wait(lambda: toast.shown, "the toast")
    assert "没有网络" in toast.text and "已保存在本机" in toast.text and "报到签到" in toast.text
    phone.shot("13-subject-offline-zh")
    [kept] = phone.app.core.outbox.pending()  # kept, tried once, still waiting
    assert kept.attempts == 1

    toggle_language(phone)
    assert banner.waiting.startswith("Not sent yet (1): check-in (")
    assert home.ids.outbox_status.text == "1 waiting"
    phone.shot("14-subject-offline-en")
    assert phone.app.catalog.missed == set()


def test_a_revoked_phone_is_signed_out_with_the_reason(app, live_server, demo, start_phone):
    phone = start_phone(live_server, "subject", lang="zh_CN")
    enroll(phone, demo["subject"])
    subject_id = phone.app.account["id"]

    officer = logged_in(app, "officer")
    [device] = officer.get(f"/api/accounts/{subject_id}/devices").get_json()
    assert officer.post(f"/api/devices/{device['id']}/revoke",
                        {"reason": "phone lost"}).status_code == 200

    phone = start_phone(live_server, "subject", lang="zh_CN")  # opened again later
    login = phone.wait_screen("login")
    phone.wait(lambda: login.ids.message.text, "the reason")
    # The server ends the phone's sessions when it revokes it, so the app hears
    # "session ended"; a subject has no password, hence the new-code advice.
    assert login.ids.message.text == "本机已退出登录。如需继续使用，请向民警索取新的激活码。"
    assert not phone.app.core.signed_in  # the dead session is not retried at every start
    assert login.mode == "code"  # what this person will need next
    phone.shot("15-subject-revoked-zh")
