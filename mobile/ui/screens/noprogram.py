"""For a role whose mini-program has not landed yet (business, resident, admin today)."""

from __future__ import annotations

from mobile.ui.screen import ShouwangScreen


class NoProgramScreen(ShouwangScreen):
    pass
