"""Adding a mini-program is adding a package: proved with one written in tmp_path."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

import mobile.miniprograms
from mobile.ui.registry import MiniProgram, Screen, Tab, discover, for_role
from tests.mobile_ui.flows import sign_in

SHOP_INIT = '''
from mobile.ui.registry import MiniProgram, Screen, Tab

MINIPROGRAM = MiniProgram(
    name="shop", package=__name__, roles=frozenset({"business_owner", "business_staff"}),
    title_key="shop.title",
    screens=(Screen("licence", "licence:LicenceScreen"),
             Screen("me", "mobile.ui.screens.me:MeScreen")),
    tabs=(Tab("licence", "shop.tab.licence"), Tab("me", "tab.me")),
    strings={"en": {"shop.title": "Shop", "shop.tab.licence": "Licence",
                    "shop.hello": "Licences will be here"},
             "zh_CN": {"shop.title": "商户", "shop.tab.licence": "许可证",
                       "shop.hello": "许可证将显示在这里"}},
)
'''
SHOP_SCREEN = '''
from mobile.ui.screen import ShouwangScreen


class LicenceScreen(ShouwangScreen):
    pass
'''
SHOP_KV = '''
<LicenceScreen>:
    title_key: "shop.title"
    TrLabel:
        id: hello
        text_key: "shop.hello"
'''


@pytest.fixture()
def shop_package(tmp_path, monkeypatch) -> Path:
    """mobile/miniprograms/shop/, but written in tmp_path and put on the package's path."""
    folder = tmp_path / "extra" / "shop"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text(textwrap.dedent(SHOP_INIT))
    (folder / "licence.py").write_text(textwrap.dedent(SHOP_SCREEN))
    (folder / "licence.kv").write_text(textwrap.dedent(SHOP_KV))
    monkeypatch.setattr(mobile.miniprograms, "__path__",
                        [*mobile.miniprograms.__path__, str(tmp_path / "extra")])
    yield folder
    for name in [m for m in sys.modules if m.startswith("mobile.miniprograms.shop")]:
        del sys.modules[name]


def test_the_bail_programs_are_found_by_role():
    programs = discover()
    assert {p.name for p in programs} >= {"supervise", "checkin"}
    assert for_role(programs, "prosecutor").name == "supervise"
    assert for_role(programs, "subject").name == "checkin"
    assert for_role(programs, "resident") is None  # its package has not landed yet


def test_a_tab_must_name_one_of_the_programs_screens():
    with pytest.raises(ValueError):
        MiniProgram(name="x", package="x", roles=frozenset({"resident"}), title_key="x.t",
                    screens=(Screen("a", "a:A"),), tabs=(Tab("b", "x.b"),))


def test_a_package_dropped_in_is_discovered(shop_package):
    shop = for_role(discover(), "business_owner")
    assert shop is not None and shop.name == "shop"
    assert [t.screen for t in shop.tabs_for("business_staff")] == ["licence", "me"]


def test_a_package_dropped_in_opens_for_its_role(shop_package, live_server, demo,
                                                 start_phone):
    phone = start_phone(live_server, "owner", lang="zh_CN", programs=discover())
    sign_in(phone, "owner")
    screen = phone.wait_screen("shop.licence")
    assert screen.ids.hello.text == "许可证将显示在这里"
    assert sorted(b.text for b in phone.app.root.ids.tabs.children) == ["我的", "许可证"]
    assert phone.app.root.ids.topbar.title == "商户"
