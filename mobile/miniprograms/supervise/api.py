"""The calls the supervise screens make, and how a status is judged. No Kivy: these
block, so screens run them through `call` (the worker thread)."""

from __future__ import annotations

from typing import Any

from mobile.ui.core_wiring import AppCore

Account = dict[str, Any]


def accounts(core: AppCore, role: str) -> list[Account]:
    found = core.get_all("/api/accounts", role=role)
    return sorted(found, key=lambda a: (not a.get("active", True), a.get("display_name", "")))


def account_with_devices(core: AppCore, account_id: str) -> tuple[Account, list[Account]]:
    return (core.call("GET", f"/api/accounts/{account_id}"),
            core.call("GET", f"/api/accounts/{account_id}/devices"))


def create(core: AppCore, role: str, display_name: str, username: str,
           id_number: str) -> tuple[Account, str]:
    body: dict[str, Any] = {"role": role, "display_name": display_name, "username": username}
    if id_number:
        body["id_number"] = id_number
    created = core.call("POST", "/api/accounts", body)
    return created["account"], created["activation_code"]


def new_code(core: AppCore, account_id: str) -> str:
    return str(core.call("POST", f"/api/accounts/{account_id}/activation-code")[
        "activation_code"])


def reveal_id(core: AppCore, account_id: str, purpose: str) -> str | None:
    answer = core.call("POST", f"/api/accounts/{account_id}/identity", {"purpose": purpose})
    return answer.get("id_number")


def revoke(core: AppCore, device_id: str, reason: str) -> Account:
    return core.call("POST", f"/api/devices/{device_id}/revoke", {"reason": reason})


def disable(core: AppCore, account_id: str, reason: str) -> Account:
    return core.call("POST", f"/api/accounts/{account_id}/disable", {"reason": reason})


def account_status(account: Account, devices: list[Account] | None) -> tuple[str, str]:
    """(level, string key). Red: disabled. Yellow: no phone enrolled yet, so nothing can
    reach the server from this person. Green: active with a phone. Without the device
    list (the list screen) an active account is simply green "active"."""
    if not account.get("active", True):
        return "red", "supervise.status.disabled"
    if devices is None:
        return "green", "supervise.status.active"
    if not any(d.get("status") == "active" for d in devices):
        return "yellow", "supervise.status.no_device"
    return "green", "supervise.status.enrolled"
