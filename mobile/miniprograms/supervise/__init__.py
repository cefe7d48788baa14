"""Supervise (监管): officers and prosecutors follow the people of their jurisdiction.

Today: accounts of my jurisdiction with their status, creating a subject or resident (with
the one-time activation code), a person's detail (ID number revealed for a stated purpose,
devices, revoke, disable). Prosecutors get the same screens read-only. Alerts, cases,
trajectories and travel approvals join as their server capabilities land.
"""

from pathlib import Path

from mobile.ui.i18n import load_dir
from mobile.ui.registry import MiniProgram, Screen, Tab

WRITERS = frozenset({"officer", "admin"})  # prosecutors only read (server policy agrees)

MINIPROGRAM = MiniProgram(
    name="supervise",
    package=__name__,
    roles=frozenset({"officer", "prosecutor", "admin"}),
    title_key="supervise.title",
    screens=(
        Screen("accounts", "accounts:AccountsScreen"),
        Screen("create", "create:CreateScreen"),
        Screen("code", "code:CodeScreen"),
        Screen("detail", "detail:DetailScreen"),
        Screen("me", "mobile.ui.screens.me:MeScreen"),
    ),
    tabs=(
        Tab("accounts", "supervise.tab.accounts"),
        Tab("create", "supervise.tab.create", roles=WRITERS),
        Tab("me", "tab.me"),
    ),
    strings=load_dir(Path(__file__).parent / "i18n"),
)
