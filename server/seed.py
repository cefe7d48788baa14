"""Demo jurisdiction and one account per role, for a laptop or a tester.

Idempotent: re-running keeps what exists and issues fresh activation codes to
phone accounts that have no enrolled device yet. Refused in production.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import select

from server.audit.service import record
from server.extensions import db
from server.identity.models import Account, Device, Jurisdiction
from server.identity.service import _new_activation_code, create_jurisdiction
from server.identity.sessions import hash_password
from server.keys.fields import blind_index, encrypt_field

JURISDICTIONS = [  # code, name, kind, parent code
    ("BH", "北海市公安局 Beihai City PSB", "city", None),
    ("BH-HC", "海城分局 Haicheng District", "district", "BH"),
    ("BH-HC-DJ", "东街派出所 Dongjie Station", "station", "BH-HC"),
    ("BH-HC-XJ", "西街派出所 Xijie Station", "station", "BH-HC"),
]


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str
    jurisdiction: str
    display_name: str
    password: str | None  # None: enrolls a phone with an activation code
    id_number: str | None = None


DEMO_ACCOUNTS = [
    DemoAccount("admin", "admin", "BH", "系统管理员 Admin", "shouwang-admin-demo"),
    DemoAccount("officer", "officer", "BH-HC-DJ", "李警官 Officer Li", "shouwang-officer-demo"),
    DemoAccount("officer2", "officer", "BH-HC-XJ", "王警官 Officer Wang", "shouwang-officer-demo"),
    DemoAccount("prosecutor", "prosecutor", "BH-HC", "陈检察官 Prosecutor Chen",
                "shouwang-prosecutor-demo"),
    DemoAccount("owner", "business_owner", "BH-HC-DJ", "周老板 Owner Zhou", "shouwang-owner-demo"),
    DemoAccount("staff", "business_staff", "BH-HC-DJ", "吴店员 Staff Wu", "shouwang-staff-demo"),
    DemoAccount("subject", "subject", "BH-HC-DJ", "张三 Zhang San", None, "450502199001011234"),
    DemoAccount("resident", "resident", "BH-HC-DJ", "赵六 Zhao Liu", None, "450502198505055678"),
]


@lru_cache(maxsize=16)
def _demo_hash(password: str) -> str:
    # argon2 is slow on purpose; a re-seed in the same process reuses the hash.
    return hash_password(password)


def seed_demo() -> list[tuple[DemoAccount, str | None]]:
    """Returns each demo account with its fresh activation code (phone roles)."""
    by_code: dict[str, Jurisdiction] = {}
    for jur_code, name, kind, parent in JURISDICTIONS:
        jur = db.session.scalar(select(Jurisdiction).where(Jurisdiction.code == jur_code))
        if jur is None:
            jur = create_jurisdiction(None, jur_code, name, kind,
                                      by_code[parent].id if parent else None)
        by_code[jur_code] = jur
    out: list[tuple[DemoAccount, str | None]] = []
    for demo in DEMO_ACCOUNTS:
        account = db.session.scalar(select(Account).where(Account.username == demo.username))
        if account is None:
            account = Account(username=demo.username, display_name=demo.display_name,
                              role=demo.role, jurisdiction_id=by_code[demo.jurisdiction].id,
                              password_hash=_demo_hash(demo.password) if demo.password
                              else None)
            if demo.id_number:
                account.id_number_enc = encrypt_field("account.id_number", demo.id_number)
                account.id_number_index = blind_index("account.id_number", demo.id_number)
            db.session.add(account)
            db.session.flush()
            record("account.create", target_type="account", target_id=account.id,
                   details={"role": demo.role, "seed": True})
        code: str | None = None
        if demo.password is None and not db.session.scalar(
                select(Device.id).where(Device.account_id == account.id,
                                        Device.status == "active")):
            code = _new_activation_code(account)
        out.append((demo, code))
    db.session.commit()
    return out
