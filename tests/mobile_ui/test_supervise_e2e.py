"""Officers and prosecutors, through the real widgets against a live server."""

from __future__ import annotations

import re

from tests.mobile_ui.flows import enroll, open_tab, row_for, sign_in, toggle_language
from tests.support import Phone

CODE = re.compile(r"^[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}$")


def test_officer_creates_a_subject_whose_phone_enrolls_with_the_code(live_server, demo,
                                                                       start_phone):
    officer = start_phone(live_server, "officer", lang="en")
    officer.shot("01-login-en")
    accounts = sign_in(officer, "officer")
    assert accounts.name == "supervise.accounts"
    row_for(officer, accounts, "张三 Zhang San")
    officer.shot("02-officer-accounts-en")

    create = open_tab(officer, "supervise.create")
    officer.type_into(create.ids.display_name, "李四 Li Si")
    officer.type_into(create.ids.username, "lisi")
    officer.type_into(create.ids.id_number, "45050219920202123X")
    officer.shot("03-officer-create-en")
    officer.tap(create.ids.submit)
    shown = officer.wait_screen("supervise.code")
    code = shown.ids.code.text
    assert CODE.match(code), code
    assert shown.ids.qr.modules, "the QR code is drawn"
    officer.shot("04-officer-activation-code-en")
    toggle_language(officer)
    assert "李四 Li Si的激活码" in officer.texts()
    officer.shot("05-officer-activation-code-zh")

    officer.tap(shown.ids.done)
    accounts = officer.wait_screen("supervise.accounts")
    officer.tap(row_for(officer, accounts, "李四 Li Si"))
    detail = officer.wait_screen("supervise.detail")
    officer.wait(lambda: detail.loaded, "the devices")
    assert (detail.ids.status.level, detail.ids.status.text) == ("yellow", "尚未绑定手机")
    officer.shot("06-officer-detail-zh")

    subject = start_phone(live_server, "lisi", lang="zh_CN")
    home = enroll(subject, code.lower().replace("-", " "),  # as copied off paper
                  shot="07-subject-enroll-zh")
    assert subject.app.account["username"] == "lisi"
    assert "李四 Li Si" in subject.texts()
    assert home.ids.outbox_status.level == "green"
    subject.shot("08-subject-home-zh")
    assert subject.app.catalog.missed == set()


def test_prosecutor_reads_everything_and_can_change_nothing(app, live_server, demo,
                                                            start_phone):
    assert Phone(app).activate(demo["subject"]).status_code == 200  # a device to revoke
    prosecutor = start_phone(live_server, "prosecutor", lang="en")
    accounts = sign_in(prosecutor, "prosecutor")
    tabs = [b.screen_id for b in prosecutor.app.root.ids.tabs.children]
    assert "supervise.create" not in tabs and "supervise.accounts" in tabs

    prosecutor.tap(row_for(prosecutor, accounts, "张三 Zhang San"))
    detail = prosecutor.wait_screen("supervise.detail")
    prosecutor.wait(lambda: detail.loaded and detail.devices, "the devices")
    assert detail.ids.status.text == "Phone enrolled"
    shown = prosecutor.texts()
    for write in ("Revoke", "Disable account", "Issue a new activation code"):
        assert write not in shown, write
    assert detail.ids.write_actions.parent is None  # not merely hidden: not there

    prosecutor.tap(detail.ids.reveal)  # reading the ID number is allowed, with a purpose
    popup = prosecutor.wait(lambda: next((w for w in prosecutor.walk()
                                          if type(w).__name__ == "ReasonPopup"), None),
                            "the purpose dialog")
    prosecutor.type_into(popup.ids.answer, "case review 2024-17")
    prosecutor.tap(popup.ids.confirm)
    prosecutor.wait(lambda: detail.id_number == "450502199001011234", "the ID number")
    prosecutor.shot("09-prosecutor-detail-en")

    from kivy.core.window import Window

    Window.dispatch("on_keyboard", 27, 41, None, [])  # Android's back button
    prosecutor.wait_screen("supervise.accounts")
    assert not prosecutor.app.root.ids.topbar.can_go_back


def test_officer_revokes_a_lost_phone(app, live_server, demo, start_phone):
    assert Phone(app).activate(demo["subject"]).status_code == 200
    officer = start_phone(live_server, "officer", lang="zh_CN")
    accounts = sign_in(officer, "officer")
    officer.tap(row_for(officer, accounts, "张三 Zhang San"))
    detail = officer.wait_screen("supervise.detail")
    officer.wait(lambda: detail.loaded and detail.devices, "the devices")
    revoke = next(w for w in detail.ids.devices.walk() if getattr(w, "text", "") == "停用")
    officer.tap(revoke)
    popup = officer.wait(lambda: next((w for w in officer.walk()
                                       if type(w).__name__ == "ReasonPopup"), None),
                         "the reason dialog")
    officer.shot("10-officer-revoke-reason-zh")
    officer.type_into(popup.ids.answer, "手机丢失")
    officer.tap(popup.ids.confirm)
    officer.wait(lambda: detail.devices and detail.devices[0]["status"] == "revoked",
                 "the device to be revoked")
    assert (detail.ids.status.level, detail.ids.status.text) == ("yellow", "尚未绑定手机")
    assert "设备已停用。" in officer.texts()
