"""Check-in (报到): the bail subject's mini-program.

Today: the phone is enrolled with the activation code (the shell's login screen), and the
home shows my account and everything still waiting on this phone. Check-ins, today's
windows, travel requests and notices join as their server capabilities land.
"""

from pathlib import Path

from mobile.ui.i18n import load_dir
from mobile.ui.registry import MiniProgram, Screen, Tab

MINIPROGRAM = MiniProgram(
    name="checkin",
    package=__name__,
    roles=frozenset({"subject"}),
    title_key="checkin.title",
    screens=(Screen("home", "home:HomeScreen"),),
    tabs=(Tab("home", "checkin.tab.home"),),
    strings=load_dir(Path(__file__).parent / "i18n"),
)
