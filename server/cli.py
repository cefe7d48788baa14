"""flask commands: seed-demo, audit verify, keys ..."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from server.api.errors import ApiError
from server.audit.service import verify_chain
from server.keys import service as key_service
from server.keys.keyring import keyring


@click.command("seed-demo")
@with_appcontext
def seed_demo() -> None:
    """Create the demo jurisdiction and accounts; print their logins."""
    if current_app.config["SHOUWANG"].production:
        raise click.ClickException("seed-demo is refused in production")
    from server.seed import seed_demo as run

    click.echo("\nDemo logins (jurisdiction 北海市 Beihai, Dongjie station):")
    for demo, code in run():
        how = (f"password {demo.password}" if demo.password
               else f"activation code {code}" if code else "device already enrolled")
        click.echo(f"  {demo.role:<15} {demo.username:<11} {how}")
    click.echo()


@click.group("audit")
def audit_cli() -> None:
    """The tamper-evident audit log."""


@audit_cli.command("verify")
@with_appcontext
def audit_verify() -> None:
    """Prove the chain intact or name the first altered entry (exit 1)."""
    result = verify_chain()
    if result.ok:
        click.echo(f"audit chain intact: {result.entries} entries")
        return
    click.echo(f"audit chain BROKEN at entry {result.first_bad_seq}: {result.problem} "
               f"({result.entries} entries verified before it)", err=True)
    sys.exit(1)


@click.group("keys")
def keys_cli() -> None:
    """Key service operations."""


@contextmanager
def _refusals() -> Iterator[None]:
    """A refused key operation is a one-line error (exit 1), not a traceback."""
    try:
        yield
    except ApiError as exc:
        raise click.ClickException(exc.message) from exc


@keys_cli.command("rotate-signing")
@with_appcontext
def rotate_signing() -> None:
    """New token signing key (the previous one stays published)."""
    row = key_service.rotate_signing(None)
    click.echo(f"signing key rotated: kid {row.kid}")


@keys_cli.command("status")
@with_appcontext
def key_status() -> None:
    """KEK provider and versions, data keys with their states, signing keys."""
    status: dict[str, Any] = key_service.status(None)
    kek = status["kek"]
    click.echo(f"KEK provider {kek['provider']}, current version {kek['current_version']}, "
               f"versions {kek['versions']}, wrapped keys by version "
               f"{kek['wrapped_keys_by_version']}; profile {status['crypto_profile']}")
    for key in status["data_keys"]:
        states = ", ".join(f"v{v['version']} {v['state']}" for v in key["versions"])
        click.echo(f"data key {key['name']}: {states} "
                   f"(min_decryption_version {key['min_decryption_version']})")
    click.echo(f"device keys: {status['device_keys']}")
    for row in keyring().published_keys():
        click.echo(f"signing key {row.kid} created {row.created_at:%Y-%m-%d %H:%M}Z")


@keys_cli.command("rotate")
@click.argument("name")
@with_appcontext
def rotate_data_key(name: str) -> None:
    """New version of data key NAME; older versions still decrypt."""
    with _refusals():
        row = key_service.rotate_key(None, name)
    click.echo(f"data key {name} rotated: now v{row.version}")


@keys_cli.command("rewrap")
@with_appcontext
def rewrap() -> None:
    """Re-wrap every stored key under the newest KEK version."""
    with _refusals():
        _echo_rewrap(key_service.rewrap(None))


@keys_cli.command("rotate-kek")
@click.option("--rewrap/--no-rewrap", default=True, show_default=True,
              help="re-wrap every stored key under the new version at once")
@with_appcontext
def rotate_kek(rewrap: bool) -> None:
    """New KEK version (in the key file or the HSM)."""
    with _refusals():
        result = key_service.rotate_kek(None, rewrap)
    click.echo(f"KEK rotated: now v{result['kek_version']}")
    if rewrap:
        _echo_rewrap(result)


def _echo_rewrap(counts: dict[str, int]) -> None:
    click.echo(f"re-wrapped under KEK v{counts['kek_version']}: {counts['data_keys']} data keys, "
               f"{counts['device_keys']} device keys, {counts['signing_keys']} signing keys, "
               f"{counts['failed']} failed")
    if counts["failed"]:
        sys.exit(1)


@keys_cli.command("destroy-kek")
@click.argument("version", type=int)
@click.option("--reason", required=True, help="recorded in the audit log")
@click.confirmation_option(prompt="Keys in old backups wrapped under this KEK version become "
                                  "unreadable, for good. Destroy it?")
@with_appcontext
def destroy_kek(version: int, reason: str) -> None:
    """Destroy old KEK version VERSION once nothing is wrapped under it."""
    with _refusals():
        result = key_service.destroy_kek_version(None, version, reason)
    click.echo(f"KEK v{version} destroyed; remaining versions {result['versions']}")


@keys_cli.command("destroy")
@click.argument("name")
@click.argument("version", type=int)
@click.option("--reason", required=True, help="recorded in the audit log")
@click.confirmation_option(prompt="Everything encrypted under this version becomes "
                                  "unreadable, for good. Destroy it?")
@with_appcontext
def destroy(name: str, version: int, reason: str) -> None:
    """Destroy version VERSION of data key NAME (crypto-shredding)."""
    with _refusals():
        key_service.destroy(None, name, version, reason)
    click.echo(f"data key {name} v{version} destroyed")
