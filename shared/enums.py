"""Names both sides use; values travel over the wire, so never rename one."""

from collections.abc import Sequence
from enum import StrEnum


class Role(StrEnum):
    SUBJECT = "subject"
    BUSINESS_OWNER = "business_owner"
    BUSINESS_STAFF = "business_staff"
    RESIDENT = "resident"
    OFFICER = "officer"
    PROSECUTOR = "prosecutor"
    ADMIN = "admin"


# Roles that log in with a password (and may add TOTP); the rest enroll a
# device with a one-time activation code and later log in by face.
PASSWORD_ROLES = frozenset({Role.OFFICER, Role.PROSECUTOR, Role.ADMIN,
                            Role.BUSINESS_OWNER, Role.BUSINESS_STAFF})
STAFF_ROLES = frozenset({Role.OFFICER, Role.PROSECUTOR, Role.ADMIN})


class JurisdictionKind(StrEnum):
    CITY = "city"
    DISTRICT = "district"
    STATION = "station"


class Capture(StrEnum):
    """How the phone captures a liveness challenge (server.biometrics.limits says which
    purposes take which)."""

    VIDEO = "video"  # every frame of the guided sequence, 10 a second
    KEYFRAMES = "keyframes"  # one frame per step of keyframe_steps


def keyframe_steps(actions: Sequence[str]) -> list[str]:
    """The steps of a keyframe capture, one frame each: still, each action, still."""
    return ["still", *actions, "still"]
