"""Integer ids in URLs: bounded like server.api.IntId, so /cases/2**70 is a 404
from routing, not an overflow in the database (PostgreSQL integers are 32-bit)."""

MAX_ID = 2**31 - 1


def path_id(name: str) -> str:
    """A URL rule segment for the integer id `name`: path_id("case_id")."""
    return f"<int(max={MAX_ID}):{name}>"


CASE, RULE, ZONE = path_id("case_id"), path_id("rule_id"), path_id("zone_id")
ALERT, CHECKIN = path_id("alert_id"), path_id("checkin_id")
TRAVEL, NOTICE = path_id("travel_id"), path_id("notice_id")
