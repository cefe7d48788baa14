"""Kivy app tests: one real (offscreen) window per process, a live server per test.

Kivy reads sys.argv, its config and the environment when first imported, so the
environment is set here, before any test module imports it. With DISPLAY unset, SDL
renders offscreen through Mesa: real pixels, real widgets, no screen needed.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

os.environ["KIVY_NO_ARGS"] = "1"
os.environ["KIVY_NO_CONSOLELOG"] = "1"
os.environ["KIVY_NO_FILELOG"] = "1"
os.environ["KIVY_USE_DEFAULTCONFIG"] = "1"  # ignore (and never write) a user's config
os.environ["KIVY_HOME"] = tempfile.mkdtemp(prefix="shouwang-kivy-")

from kivy.config import Config  # noqa: E402 - must follow the environment above

from tests.mobile_ui.driver import PHONE_SIZE, Driver  # noqa: E402

Config.set("graphics", "width", str(PHONE_SIZE[0]))
Config.set("graphics", "height", str(PHONE_SIZE[1]))
Config.set("kivy", "exit_on_escape", "0")
for _name, _ in Config.items("input"):  # no mouse/touch providers: the tests are the hand
    Config.remove_option("input", _name)


@pytest.fixture(scope="session")
def kivy_window() -> object:
    from kivy.base import EventLoop

    EventLoop.ensure_window()
    window = EventLoop.window
    window.close = lambda *_: None  # an app's stop must not end the process's one window
    return window


@pytest.fixture()
def start_phone(kivy_window, tmp_path) -> Iterator[Callable[..., Driver]]:
    """start_phone(server, name, lang="en", programs=None, gpx=None, frames_dir=None)
    -> a Driver on a fresh app (gpx and frames_dir feed the desktop GPS and camera).
    One app at a time shares the window: starting a new one stops the previous."""
    drivers: list[Driver] = []

    def start(server: str, name: str = "phone", lang: str = "en",
              programs: list | None = None, **sensors: object) -> Driver:
        if drivers:
            drivers[-1].stop()
        driver = Driver.start(server, Path(tmp_path) / name, lang, programs, **sensors)
        drivers.append(driver)
        return driver

    yield start
    if drivers:
        drivers[-1].stop()
