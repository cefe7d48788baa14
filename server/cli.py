"""flask commands: seed-demo, audit verify, keys ..."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from server.audit.service import record, verify_chain
from server.extensions import db
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


@keys_cli.command("rotate-signing")
@with_appcontext
def rotate_signing() -> None:
    """New token signing key (the previous one stays published)."""
    row = keyring().rotate_signing_key()
    record("keys.signing_rotate", target_type="signing_key", target_id=row.kid,
           details={"via": "cli"})
    db.session.commit()
    click.echo(f"signing key rotated: kid {row.kid}")


@keys_cli.command("status")
@with_appcontext
def key_status() -> None:
    """KEK provider and version, published signing keys."""
    ring = keyring()
    click.echo(f"KEK provider {ring.kek.name}, current version {ring.kek.current_version()}")
    for row in ring.published_keys():
        click.echo(f"signing key {row.kid} created {row.created_at:%Y-%m-%d %H:%M}Z")
