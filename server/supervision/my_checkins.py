"""A subject's own check-ins, as their phone's History shows them.

Reading a check-in is reading a criminal-justice record, even one's own: it is audited
like an officer's read (without a purpose: the person reads their own record). What a
person gets is what they need to know where they stand, never the biometric decision
data (liveness scores, challenge ids) nor the officer's notes.
"""

from __future__ import annotations

from sqlalchemy import Select, select

from server.audit.service import record
from server.extensions import db
from server.identity.models import Account
from server.supervision import cases
from server.supervision.models_activity import FAILED, LATE, OK, Checkin

# The words a person reads, from the server's own status names.
STATUS = {OK: "on_time", LATE: "late", FAILED: "refused"}


def my_checkins(actor: Account) -> Select[tuple[Checkin]]:
    """A select of the actor's check-ins on their active case, newest first (paged by
    the route); the read is audited and committed before any row is sent."""
    case = cases.my_case(actor)
    record("supervision.checkin.list_own", target_type="sup_case", target_id=str(case.id))
    db.session.commit()
    return (select(Checkin).where(Checkin.case_id == case.id)
            .order_by(Checkin.captured_at.desc(), Checkin.id.desc()))


def status_word(checkin: Checkin) -> str:
    """on_time | late | refused | unscheduled (a check-in when none was due)."""
    return STATUS.get(checkin.status, checkin.status)


def reasons(checkin: Checkin) -> list[str]:
    """Codes the phone turns into words: late:<why>, flag:<what>, liveness_failed..."""
    return list(checkin.attention_reasons or [])

