"""ShouwangApp: the shell. It is handed a headless AppCore and never does HTTP itself."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.properties import DictProperty, ListProperty, StringProperty
from kivy.uix.floatlayout import FloatLayout

from mobile.core.client import ApiProblem
from mobile.ui import theme
from mobile.ui.async_work import Worker, run_async
from mobile.ui.core_wiring import AppCore, DeliveryResult
from mobile.ui.dialogs import ask_confirm
from mobile.ui.fonts import install_cjk_font
from mobile.ui.i18n import DEFAULT_LANGUAGE, LANGUAGES, Catalog
from mobile.ui.messages import Tr, describe_pending, offline_text, problem_text
from mobile.ui.navigation import Navigator
from mobile.ui.registry import MiniProgram, discover, for_role
from mobile.ui.screen import ShouwangScreen, load_kv_once

HERE = Path(__file__).resolve().parent
OUTBOX_TICK_S = 20.0  # how often the outbox is retried while the app is open
SESSION_OVER = ("session_ended", "refresh_reuse", "device_revoked", "account_disabled")
DEVICE_ROLES = ("subject", "resident")
ESCAPE = 27  # enrolled by activation code, no password
log = logging.getLogger(__name__)


class ShellRoot(FloatLayout):
    """Top bar, pending banner, screens, tab bar; the toast floats above (shell.kv)."""


class ShouwangApp(App):
    lang = StringProperty(DEFAULT_LANGUAGE)
    account = DictProperty({})  # /api/me of whoever is signed in; empty when nobody is
    pending = ListProperty([])  # the outbox's PendingItems, refreshed by refresh_pending

    def __init__(self, core: AppCore, lang: str | None = None,
                 programs: list[MiniProgram] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.title = "守望 Shouwang"
        self.core = core
        self.programs = discover() if programs is None else programs
        self.catalog = Catalog()
        for program in self.programs:
            self.catalog.merge(program.strings, program.name)
        chosen = lang or core.pref("lang") or DEFAULT_LANGUAGE
        self.lang = chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE
        self.worker = Worker(default_error=self.show_problem)
        self.nav: Navigator
        self._track_tick: Any = None

    # -- Kivy lifecycle -------------------------------------------------------------
    def get_application_config(self, defaultpath: str = "") -> str:
        # Kivy would write shouwang.ini beside this module, i.e. into the source tree.
        return str(self.core.profile / "kivy.ini")

    def build(self) -> ShellRoot:
        install_cjk_font()
        Window.clearcolor = theme.BACKGROUND
        for kv in ("widgets.kv", "dialogs.kv", "shell.kv"):  # shared by every screen
            load_kv_once(HERE / kv)
        root = ShellRoot()
        self.nav = Navigator(root.ids.screens, root.ids.tabs, self.screen_changed)
        self.bind(lang=lambda *_: self.screen_changed(self.nav.current))
        Window.bind(on_keyboard=self._on_key)
        return root

    def _on_key(self, _window: Any, key: int, *_: Any) -> bool:
        # Android's back button arrives as Escape: go back a page rather than quit.
        if key == ESCAPE and self.nav.can_go_back:
            self.nav.back()
            return True
        return False

    def on_start(self) -> None:
        if self.core.signed_in:  # a stored session: straight to the person's mini-program
            self.nav.show("login").busy = True
            run_async(self.core.resume, lambda result: self.enter(*result),
                      self._resume_failed)
        else:
            self.nav.show("login")
        self.refresh_pending()
        self._outbox_tick = Clock.schedule_interval(
            lambda _dt: self.deliver_now(manual=False), OUTBOX_TICK_S)

    def on_stop(self) -> None:
        Window.unbind(on_keyboard=self._on_key)
        self._outbox_tick.cancel()
        self._stop_tracking()
        self.worker.shutdown()

    # -- strings ----------------------------------------------------------------------
    def tr(self, key: str, lang: str | None = None, **params: Any) -> str:
        """kv calls app.tr("key", app.lang): naming app.lang re-renders on a switch."""
        return self.catalog.tr(key, lang or self.lang, **params)

    @property
    def bound_tr(self) -> Tr:
        return Tr(self.catalog.tr, self.lang)

    def toggle_language(self) -> None:
        self.lang = LANGUAGES[(LANGUAGES.index(self.lang) + 1) % len(LANGUAGES)]
        self.core.set_pref("lang", self.lang)
        self.root.ids.toast.hide()  # a message in the old language would read as noise
        self.refresh_pending()

    def screen_changed(self, screen: ShouwangScreen | None) -> None:
        if screen is None:
            return
        topbar = self.root.ids.topbar
        topbar.title = screen.title_text or self.tr(screen.title_key)
        topbar.can_go_back = self.nav.can_go_back

    # -- session ----------------------------------------------------------------------
    def enter(self, account: dict[str, Any], online: bool = True) -> None:
        """Role detection: open the mini-program that serves this account's role."""
        self.account = account
        program = for_role(self.programs, account.get("role", ""))
        if program is None:
            self.nav.show("noprogram")
        else:
            self.nav.open_program(program, account["role"])
        if not online:
            self.toast(offline_text(self.bound_tr, self.core.pending_items(), None))
        if account.get("role") == "subject" and self.core.location is not None:
            run_async(self.core.my_case_id, self._start_tracking, lambda _e: None)

    # -- background location (a subject's) ----------------------------------------------
    def _start_tracking(self, case_id: int | None) -> None:
        # On a desktop the Kivy Clock drives the tracker while the app is open; on
        # Android a foreground service would call the same tick (see buildozer.spec).
        if case_id is None or not self.account:
            return
        tracker = self.core.start_tracking(case_id)
        if tracker is not None and self._track_tick is None:
            self._track_tick = Clock.schedule_interval(tracker.tick, tracker.every_s)

    def _stop_tracking(self) -> None:
        if self._track_tick is not None:
            self._track_tick.cancel()
            self._track_tick = None
        self.core.stop_tracking()

    def _resume_failed(self, error: BaseException) -> None:
        self.nav.show("login").busy = False
        self.show_problem(error)

    def sign_out(self) -> None:
        # A subject has no password: signing out means asking the officer for a new code.
        warning = ("logout.confirm_device" if self.account.get("role") in DEVICE_ROLES
                   else "logout.confirm")
        ask_confirm("logout.title", warning, "logout.action", self._logout)

    def _logout(self) -> None:
        run_async(self.core.logout, lambda _: self.signed_out(),
                  lambda error: self.show_problem(error, "action.logout"))

    def signed_out(self, message: str = "") -> None:
        role = (self.account or self.core.cached_account() or {}).get("role")
        self.account = {}
        self._stop_tracking()
        self.nav.close_program("login")
        # Whoever enrolled with a code will need a code again: open on that panel.
        self.nav.show("login", message=message,
                      mode="code" if role in DEVICE_ROLES else "password")

    # -- messages ---------------------------------------------------------------------
    def toast(self, text: str, level: str = "info") -> None:
        self.root.ids.toast.show(text, level)

    def show_problem(self, error: BaseException, action_key: str | None = None) -> None:
        if not isinstance(error, ApiProblem):
            log.error("unexpected error", exc_info=error)
            self.toast(self.tr("problem.unexpected"), "error")
            return
        text = problem_text(self.bound_tr, error, self.core.pending_items(), action_key)
        if error.reason in SESSION_OVER and error.status == 401:
            role = (self.account or self.core.cached_account() or {}).get("role")
            if role in DEVICE_ROLES and error.reason in ("session_ended", "refresh_reuse"):
                text = self.tr("problem.session_ended_device")  # no password to go back to
            self.signed_out(text)
            self.core.forget_session()  # nothing more can be done with this session
            return
        self.toast(text, "error")

    # -- outbox -----------------------------------------------------------------------
    def refresh_pending(self) -> None:
        # A local SQLite read of a few rows: cheap enough for the UI thread.
        self.pending = self.core.pending_items()
        waiting, refused = describe_pending(self.bound_tr, self.pending)
        banner = self.root.ids.banner
        banner.waiting, banner.refused = waiting, refused

    def deliver_now(self, manual: bool = True) -> None:
        if not self.core.signed_in or not self.core.outbox.due(float("inf")):
            self.refresh_pending()
            return
        run_async(self.core.deliver_outbox, lambda r: self._delivered(r, manual),
                  lambda error: self._delivery_failed(error, manual))

    def _delivered(self, result: DeliveryResult, manual: bool) -> None:
        self.refresh_pending()
        if manual and result.offline:
            self.toast(offline_text(self.bound_tr, self.core.pending_items(), None), "error")
        elif manual and result.delivered and not result.waiting:
            self.toast(self.tr("pending.all_sent"))

    def _delivery_failed(self, error: BaseException, manual: bool) -> None:
        self.refresh_pending()
        if manual:
            self.show_problem(error)
