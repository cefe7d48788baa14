"""Check-in (报到): the bail subject's mini-program.

The phone is enrolled with the activation code (the shell's login screen). Home is today:
what is due (windows, an officer's random check, court dates); a check-in is guided face
liveness + a GPS fix + the case's questions, queued in the outbox and delivered; History
says what each check-in became and what is still on the phone; Notices and travel
requests. Home also shows the account and everything still waiting on this phone.
"""

from pathlib import Path

from mobile.ui.i18n import load_dir
from mobile.ui.registry import MiniProgram, Screen, Tab

MINIPROGRAM = MiniProgram(
    name="checkin",
    package=__name__,
    roles=frozenset({"subject"}),
    title_key="checkin.title",
    screens=(Screen("home", "home:HomeScreen"),
             Screen("checkin", "checkin:CheckinScreen"),
             Screen("history", "history:HistoryScreen"),
             Screen("notices", "notices:NoticesScreen"),
             Screen("travel", "travel:TravelScreen")),
    tabs=(Tab("home", "checkin.tab.home"), Tab("history", "checkin.tab.history"),
          Tab("notices", "checkin.tab.notices"), Tab("travel", "checkin.tab.travel")),
    strings=load_dir(Path(__file__).parent / "i18n"),
)
