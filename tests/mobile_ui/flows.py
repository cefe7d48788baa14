"""What a person does again and again, said once: sign in, enroll, open a tab, a row."""

from __future__ import annotations

from typing import Any

from tests.mobile_ui.driver import Driver
from tests.support import PASSWORDS


def sign_in(phone: Driver, username: str, password: str | None = None) -> Any:
    login = phone.wait_screen("login")
    if login.mode != "password":
        phone.tap(login.ids.mode_password)
    phone.type_into(login.ids.username, username)
    phone.type_into(login.ids.password, password or PASSWORDS[username])
    phone.tap(login.ids.sign_in)
    phone.wait(lambda: phone.app.account or login.message, f"{username} to be let in")
    phone.settle()
    return phone.screen


def enroll(phone: Driver, code: str, shot: str | None = None) -> Any:
    login = phone.wait_screen("login")
    phone.tap(login.ids.mode_code)
    phone.type_into(login.ids.code, code)
    if shot:
        phone.shot(shot)
    phone.tap(login.ids.enroll)
    return phone.wait_screen("checkin.home")


def open_tab(phone: Driver, screen_id: str) -> Any:
    buttons = {b.screen_id: b for b in phone.app.root.ids.tabs.children}
    phone.tap(buttons[screen_id])
    return phone.wait_screen(screen_id)


def row_for(phone: Driver, accounts_screen: Any, display_name: str) -> Any:
    """The on-screen row of a person (the RecycleView makes rows for visible data only)."""
    phone.wait(lambda: any(r["display_name"] == display_name
                           for r in accounts_screen.ids.rows.data), f"{display_name} listed")
    phone.frames(2)
    return phone.wait(lambda: next((w for w in accounts_screen.ids.rows.walk()
                                    if getattr(w, "display_name", None) == display_name
                                    and phone.visible(w)), None), f"{display_name}'s row")


def toggle_language(phone: Driver) -> None:
    before = phone.app.lang
    phone.tap(phone.app.root.ids.topbar.ids.language)
    phone.wait(lambda: phone.app.lang != before, "the language to change")
    phone.settle()
