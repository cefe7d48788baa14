"""'Me': the signed-in account and this device, with sign-out. A tab any mini-program can
list as "mobile.ui.screens.me:MeScreen"."""

from __future__ import annotations

from mobile.ui.screen import ShouwangScreen


class MeScreen(ShouwangScreen):
    pass
