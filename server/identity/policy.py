"""The one access policy. Routes and services ask it; nobody hand-codes access.

Two questions, always in this order:
1. Is the record inside the actor's jurisdiction subtree (or the actor's own)?
   If not, the answer is 404: the record's existence is not revealed.
2. May the actor's role perform the action? If not, 403.
Prosecutors only read. Subjects, residents and business accounts reach only
their own records through the SELF actions.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select

from server.api.errors import Forbidden, NotFound
from server.identity.models import Account, Jurisdiction
from shared.enums import Role

R = Role
READERS = frozenset({R.OFFICER, R.PROSECUTOR, R.ADMIN})
WRITERS = frozenset({R.OFFICER, R.ADMIN})

RULES: dict[str, frozenset[Role]] = {
    "account.read": READERS,
    "account.create": WRITERS,
    "account.update": WRITERS,
    "account.disable": WRITERS,
    "account.reveal_identity": READERS,
    "account.issue_activation": WRITERS,
    "device.read": READERS,
    "device.revoke": WRITERS,
    "jurisdiction.read": READERS,
    "jurisdiction.create": frozenset({R.ADMIN}),
    "audit.read": frozenset({R.ADMIN}),
    "keys.manage": frozenset({R.ADMIN}),
    # Key charging: a device charges only itself (SELF), nobody does it for another.
    "device.charge_key": frozenset(),
    # Evidence: an upload is its uploader's business only (SELF, no role may
    # touch another's); staff read in scope; filing into another jurisdiction
    # than one's own is a write.
    "evidence.upload": frozenset(),
    "evidence.read": READERS,
    "evidence.assign": WRITERS,
    # Bail supervision: officers run cases in their subtree, prosecutors only read
    # them; a subject reaches their own case only, through SELF.
    "supervision.case.read": READERS,
    "supervision.case.write": frozenset({R.OFFICER}),
    "supervision.location.read": READERS,
    "supervision.alert.handle": frozenset({R.OFFICER}),
    "supervision.subject": frozenset(),
    # Face biometrics: officers enrol, verify and review in their subtree; a
    # person's own device takes liveness challenges only for itself (SELF).
    "biometrics.enroll": frozenset({R.OFFICER}),
    "biometrics.verify": frozenset({R.OFFICER}),
    "biometrics.review": frozenset({R.OFFICER}),
    "biometrics.challenge": frozenset(),
}

# What anyone may do to their own account (a lost phone is revoked by its owner too).
SELF_ACTIONS = frozenset({"account.read", "device.read", "device.revoke",
                          "evidence.upload", "evidence.read",
                          "device.charge_key", "supervision.subject",
                          "biometrics.challenge"})

# Which roles each role may create accounts for.
CREATABLE: dict[Role, frozenset[Role]] = {
    R.OFFICER: frozenset({R.SUBJECT, R.RESIDENT, R.BUSINESS_OWNER, R.BUSINESS_STAFF}),
    R.ADMIN: frozenset(Role),
}


def in_scope(actor: Account, jurisdiction: Jurisdiction) -> bool:
    return jurisdiction.path.startswith(actor.jurisdiction.path)


def authorize(actor: Account, action: str, jurisdiction: Jurisdiction | None = None,
              owner_id: str | None = None) -> None:
    """Raise NotFound or Forbidden; return quietly when allowed."""
    if action not in RULES:
        raise KeyError(f"unknown action {action}")  # a programming error, not a 4xx
    if owner_id is not None and owner_id == actor.id and action in SELF_ACTIONS:
        return
    role = Role(actor.role)
    if role not in READERS:
        raise NotFound("Not found.")
    if jurisdiction is not None and not in_scope(actor, jurisdiction):
        raise NotFound("Not found.")
    if role not in RULES[action]:
        raise Forbidden(f"A {role.value} may not {action.replace('.', ' ')}.", reason="role")


def authorize_create(actor: Account, role: Role, jurisdiction: Jurisdiction) -> None:
    authorize(actor, "account.create", jurisdiction)
    if role not in CREATABLE.get(Role(actor.role), frozenset()):
        raise Forbidden(f"A {actor.role} may not create {role.value} accounts.", reason="role")


def scoped(stmt: Select[Any], actor: Account, jurisdiction_column: Any) -> Select[Any]:
    """Restrict a query to records in the actor's subtree (by a jurisdiction id column)."""
    subtree = Jurisdiction.path.startswith(actor.jurisdiction.path, autoescape=True)
    return stmt.join(Jurisdiction, Jurisdiction.id == jurisdiction_column).where(subtree)
