"""Names both sides use; values travel over the wire, so never rename one."""

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
