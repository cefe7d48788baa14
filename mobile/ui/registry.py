"""Mini-program registry: each package under mobile/miniprograms declares one.

A mini-program is a package whose __init__ defines `MINIPROGRAM = MiniProgram(...)`:
the roles it serves, its screens ("module:Class", the .kv beside the module), its tabs
and its strings. The shell discovers them; adding the business or resident mini-program
is adding a package. No Kivy here: declarations must stay importable without a window.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mobile.ui.i18n import Strings

PACKAGE = "mobile.miniprograms"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Screen:
    name: str  # unique within its mini-program
    target: str  # "module:Class"; a module without dots is relative to the package


@dataclass(frozen=True)
class Tab:
    screen: str
    title_key: str
    roles: frozenset[str] | None = None  # None: every role of the mini-program


@dataclass(frozen=True)
class MiniProgram:
    name: str
    package: str
    roles: frozenset[str]
    title_key: str
    screens: tuple[Screen, ...]
    tabs: tuple[Tab, ...]
    strings: Strings = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = [s.name for s in self.screens]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: duplicate screen names")
        for tab in self.tabs:
            if tab.screen not in names:
                raise ValueError(f"{self.name}: tab {tab.screen!r} has no screen")

    def tabs_for(self, role: str) -> list[Tab]:
        return [t for t in self.tabs if t.roles is None or role in t.roles]

    def screen_id(self, name: str) -> str:
        """The ScreenManager name: mini-program names keep screens from colliding."""
        return f"{self.name}.{name}"

    def resolve(self, name: str) -> tuple[type[Any], Path | None]:
        spec = next(s for s in self.screens if s.name == name)
        return resolve(spec.target, self.package)


def resolve(target: str, package: str = "") -> tuple[type[Any], Path | None]:
    """Import "module:Class" (a dotless module is relative to `package`); return the class
    with the .kv file beside its module, if there is one. Called when a screen is first
    shown, so neither the module nor its .kv is loaded before someone needs them."""
    module_name, _, class_name = target.partition(":")
    if "." not in module_name and package:
        module_name = f"{package}.{module_name}"
    module = importlib.import_module(module_name)
    kv = Path(module.__file__ or "").with_suffix(".kv")
    return getattr(module, class_name), kv if kv.is_file() else None


def discover(package: str = PACKAGE) -> list[MiniProgram]:
    """Every mini-program package found on `package.__path__`, by name."""
    root = importlib.import_module(package)
    found: dict[str, MiniProgram] = {}
    for info in pkgutil.iter_modules(root.__path__):
        if not info.ispkg:
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        program = getattr(module, "MINIPROGRAM", None)
        if not isinstance(program, MiniProgram):
            log.warning("%s.%s declares no MINIPROGRAM; skipped", package, info.name)
            continue
        found[program.name] = program
    programs = sorted(found.values(), key=lambda p: p.name)
    _check_roles(programs)
    return programs


def _check_roles(programs: Iterable[MiniProgram]) -> None:
    owner: dict[str, str] = {}
    for program in programs:
        for role in program.roles:
            if role in owner:  # two programs for one role: which opens would be luck
                raise ValueError(f"role {role!r} is claimed by {owner[role]} and "
                                 f"{program.name}")
            owner[role] = program.name


def for_role(programs: Iterable[MiniProgram], role: str) -> MiniProgram | None:
    return next((p for p in programs if role in p.roles), None)
