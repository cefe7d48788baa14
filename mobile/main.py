"""Start the phone app: `python -m mobile.main [--server URL] [--profile DIR] [--lang ...]`.

On the desktop it opens a phone-sized window against the local server (`make run`); on
Android (buildozer) it runs this same file. The headless core is built first, outside
Kivy, and handed to the app.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

# Run as a plain script (Android's launcher does that): make `mobile` and `shared` importable.
if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DEFAULT_SERVER = "http://127.0.0.1:5000"
ANDROID_EMULATOR_SERVER = "http://10.0.2.2:5000"  # the host's 127.0.0.1 seen from the emulator
PHONE_WINDOW = (420, 820)


def _on_android() -> bool:
    return "ANDROID_ARGUMENT" in os.environ or "ANDROID_PRIVATE" in os.environ


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    android = _on_android()
    parser = argparse.ArgumentParser(prog="python -m mobile.main", description=__doc__.split(
        "\n")[0])
    parser.add_argument("--server", default=os.environ.get(
        "SHOUWANG_SERVER", ANDROID_EMULATOR_SERVER if android else DEFAULT_SERVER))
    parser.add_argument("--profile", help="folder for this device's keys, tokens and outbox "
                                          "(default ~/.shouwang/app-<host>); one per person")
    parser.add_argument("--lang", choices=["zh_CN", "en"], help="start in this language")
    parser.add_argument("--gpx", help="desktop GPS: replay this GPX track")
    parser.add_argument("--frames", help="desktop camera: frames from this image folder")
    return parser.parse_args(argv)


def default_profile(server: str) -> Path:
    if _on_android():  # the app's private storage, wiped with the app
        return Path(os.environ.get("ANDROID_PRIVATE", ".")) / "profile"
    host = urlsplit(server).netloc.replace(":", "_") or "default"
    return Path.home() / ".shouwang" / f"app-{host}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # Kivy parses sys.argv and reads its config at import: ours are not its options.
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    from mobile.ui.core_wiring import AppCore

    platform = "android" if _on_android() else sys.platform
    core = AppCore.open(args.server, args.profile or default_profile(args.server),
                        platform=platform, gpx=args.gpx, frames_dir=args.frames)
    if platform != "android":
        from kivy.config import Config

        Config.set("graphics", "width", str(PHONE_WINDOW[0]))
        Config.set("graphics", "height", str(PHONE_WINDOW[1]))
    from mobile.ui.app import ShouwangApp

    try:
        ShouwangApp(core, lang=args.lang).run()
    finally:
        core.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
