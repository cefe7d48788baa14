"""`shouwang`: a command-line client on the phone's headless core.

For testers and operators: it holds a device key like a phone does and signs
a proof for every call, so it can reach any endpoint the app can.

    shouwang login officer                 # asks for the password
    shouwang get /api/me
    shouwang post /api/accounts '{"username": "...", ...}'
    shouwang upload photo.jpg --type image/jpeg   # sealed on this device, then sent

The device key and tokens live encrypted in a profile folder
(~/.shouwang/<host> unless --profile); with SHOUWANG_PIN set the store is
sealed under that passphrase (scrypt), otherwise under a key file beside it.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mobile.core.client import ApiClient, ApiProblem
from mobile.core.evidence import EvidenceError, EvidenceQueue
from mobile.core.keystore import (
    FileKeyProtector,
    KeyProtector,
    KeyStore,
    KeyStoreError,
    PassphraseProtector,
)

DEFAULT_SERVER = "http://127.0.0.1:5000"


def _store(profile: Path) -> KeyStore:
    profile.mkdir(parents=True, exist_ok=True, mode=0o700)
    pin = os.environ.get("SHOUWANG_PIN")
    protector: KeyProtector = (PassphraseProtector(pin) if pin
                               else FileKeyProtector(profile / "device.key"))
    path = profile / "keystore.json"
    return KeyStore.open(path, protector) if path.exists() else KeyStore.create(path, protector)


def _profile(args: argparse.Namespace) -> Path:
    host = urlsplit(args.server).netloc.replace(":", "_") or "default"
    return Path(args.profile) if args.profile else Path.home() / ".shouwang" / host


def _client(args: argparse.Namespace) -> ApiClient:
    store = _store(_profile(args))
    return ApiClient(args.server, store.ed25519_key(), store)


def _upload(client: ApiClient, profile: Path, args: argparse.Namespace) -> int:
    """Seal the file (if one is given) and send everything queued; a cut connection
    keeps it queued: run `shouwang upload` again to continue."""
    queue = EvidenceQueue(profile / "evidence", client)
    try:
        if args.file:
            if not args.type:
                print("error: --type is required with a file", file=sys.stderr)
                return 2
            object_id = queue.seal(Path(args.file).read_bytes(), args.type, args.case)
            print(f"sealed {args.file} as {object_id}")
        done, refused = queue.upload_all()
    except EvidenceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for object_id in done:
        print(f"uploaded {object_id}")
    for object_id, why in refused.items():
        print(f"refused {object_id}: {why}", file=sys.stderr)
    return 1 if refused else 0


def _print(payload: Any) -> None:
    if payload is not None:
        print(json.dumps(payload, indent=2, ensure_ascii=False))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="shouwang", description=__doc__.split("\n")[0])
    parser.add_argument("--server", default=os.environ.get("SHOUWANG_SERVER", DEFAULT_SERVER))
    parser.add_argument("--profile", help="folder for this device's keys and tokens")
    sub = parser.add_subparsers(dest="command", required=True)
    login = sub.add_parser("login", help="log in with a password (officers, admins, businesses)")
    login.add_argument("username")
    login.add_argument("--password", help="omit to be asked")
    login.add_argument("--totp", help="6-digit authenticator code")
    activate = sub.add_parser("activate", help="enroll this device with an activation code")
    activate.add_argument("code")
    for verb in ("get", "post", "put", "patch", "delete"):
        cmd = sub.add_parser(verb, help=f"{verb.upper()} an API path with a signed proof")
        cmd.add_argument("path")
        if verb != "get":
            cmd.add_argument("body", nargs="?", help="JSON body")
    upload = sub.add_parser("upload", help="seal a file as evidence and upload it (resumable)")
    upload.add_argument("file", nargs="?", help="omit to resume what is queued")
    upload.add_argument("--type", help="content type, e.g. image/jpeg or application/pdf")
    upload.add_argument("--case", help="the case_ref it belongs to")
    sub.add_parser("logout", help="end the session")
    args = parser.parse_args(argv)

    try:
        client = _client(args)
        if args.command == "login":
            password = args.password or getpass.getpass(f"password for {args.username}: ")
            tokens = client.login(args.username, password, args.totp, device_name="shouwang-cli",
                                  platform="cli")
            print(f"logged in as {tokens['account']['username']} ({tokens['account']['role']})")
        elif args.command == "activate":
            tokens = client.activate(args.code, device_name="shouwang-cli", platform="cli")
            print(f"device enrolled for {tokens['account']['username']}")
        elif args.command == "upload":
            return _upload(client, _profile(args), args)
        elif args.command == "logout":
            client.logout()
            print("logged out")
        else:
            body = json.loads(args.body) if getattr(args, "body", None) else None
            _print(client.call(args.command.upper(), args.path, body))
    except ApiProblem as problem:
        print(f"error {problem.status}: {problem.human()}", file=sys.stderr)
        if problem.errors:
            print(json.dumps(problem.errors, ensure_ascii=False), file=sys.stderr)
        return 1
    except (KeyStoreError, json.JSONDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
