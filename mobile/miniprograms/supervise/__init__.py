"""Supervise (监管): officers and prosecutors follow the people of their jurisdiction.

Accounts of my jurisdiction (create a subject with a one-time activation code, a
person's detail, devices), the alerts feed (acknowledge, resolve), the needs-attention
queue of check-ins, cases with their green / yellow / red status, case set-up (check-in
windows, zones, court dates, random checks), the trajectory on a canvas and travel
approvals. Prosecutors get the same screens with no write widgets at all; the server
refuses their writes anyway.
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
        Screen("alerts", "alerts:AlertsScreen"),
        Screen("attention", "attention:AttentionScreen"),
        Screen("cases", "cases:CasesScreen"),
        Screen("case", "case:CaseScreen"),
        Screen("setup", "setup:SetupScreen"),
        Screen("trajectory", "trajectory:TrajectoryScreen"),
        Screen("travel", "travel:TravelDecisionsScreen"),
        Screen("create", "create:CreateScreen"),
        Screen("code", "code:CodeScreen"),
        Screen("detail", "detail:DetailScreen"),
        Screen("me", "mobile.ui.screens.me:MeScreen"),
    ),
    tabs=(
        Tab("accounts", "supervise.tab.accounts"),
        Tab("alerts", "supervise.tab.alerts"),
        Tab("attention", "supervise.tab.attention"),
        Tab("cases", "supervise.tab.cases"),
        Tab("create", "supervise.tab.create", roles=WRITERS),
        Tab("me", "tab.me"),
    ),
    strings=load_dir(Path(__file__).parent / "i18n"),
)
