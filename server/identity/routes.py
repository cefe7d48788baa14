"""Identity endpoints: thin — parse, call a service, serialize."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView

from server.api import Blueprint
from server.api.pagination import SelectPage
from server.extensions import limiter
from server.identity import schemas as s
from server.identity import service, sessions
from server.identity.authn import check_request_proof, current_principal
from server.identity.limit_keys import by_proof_key

auth = Blueprint("auth", __name__, url_prefix="/api/auth",
                 description="Log in, enroll a device, refresh, log out")
accounts = Blueprint("accounts", __name__, url_prefix="/api",
                     description="Accounts, devices and jurisdictions")

AUTH_LIMIT = "10 per minute"
# Refresh is limited per device, not per address: behind carrier-grade NAT hundreds of
# phones share one address. Guessing is no threat (a refresh token is 256 random bits,
# bound to the device key), so the per-address limit is only a ceiling against floods.
REFRESH_DEVICE_LIMIT = "30 per minute"
REFRESH_ADDRESS_LIMIT = "600 per minute"


def _username_key() -> str:
    body = request.get_json(silent=True)
    name = body.get("username") if isinstance(body, dict) else None
    return f"login:{name if isinstance(name, str) else '?'}"


@auth.route("/login", methods=["POST"])
@limiter.limit(AUTH_LIMIT)
@limiter.limit("5 per minute", key_func=_username_key)
@auth.arguments(s.LoginSchema)
@auth.response(200, s.TokenSchema)
def login(data: dict[str, Any]) -> Any:
    """Log in with password (+ TOTP); the DPoP proof's key becomes the device key"""
    proof = check_request_proof()
    pair = sessions.login_password(data["username"], data["password"], data.get("totp"),
                                   proof, proof.jwk, data["device_name"], data["platform"])
    return sessions.session_payload(pair)


@auth.route("/activate", methods=["POST"])
@limiter.limit(AUTH_LIMIT)
@auth.arguments(s.ActivateSchema)
@auth.response(200, s.TokenSchema)
def activate(data: dict[str, Any]) -> Any:
    """Enroll this device with a one-time activation code"""
    proof = check_request_proof()
    pair = sessions.activate_device(data["activation_code"], proof, proof.jwk,
                                    data["device_name"], data["platform"])
    return sessions.session_payload(pair)


@auth.route("/refresh", methods=["POST"])
@limiter.limit(REFRESH_ADDRESS_LIMIT)
@limiter.limit(REFRESH_DEVICE_LIMIT, key_func=by_proof_key("refresh"))
@auth.arguments(s.RefreshSchema)
@auth.response(200, s.TokenSchema)
def refresh(data: dict[str, Any]) -> Any:
    """Swap a refresh token for a new pair (rotation; reuse revokes the session)"""
    proof = check_request_proof()
    return sessions.session_payload(sessions.refresh(data["refresh_token"], proof))


@auth.route("/logout", methods=["POST"])
@auth.auth_required()
@auth.response(204)
def logout() -> None:
    """End this session at once"""
    sessions.logout(current_principal())


@auth.route("/totp/setup", methods=["POST"])
@auth.auth_required()
@auth.response(200, s.TotpSetupSchema)
def totp_setup() -> Any:
    """Start adding an authenticator app (enabled after confirm)"""
    return {"provisioning_uri": service.totp_setup(current_principal().account)}


@auth.route("/totp/confirm", methods=["POST"])
@auth.auth_required()
@auth.arguments(s.TotpConfirmSchema)
@auth.response(204)
def totp_confirm(data: dict[str, Any]) -> None:
    """Confirm the authenticator with a current code"""
    service.totp_confirm(current_principal().account, data["code"])


@accounts.route("/me")
@accounts.auth_required()
@accounts.response(200, s.AccountSchema)
def me() -> Any:
    """Who am I"""
    return current_principal().account


@accounts.route("/accounts")
class AccountList(MethodView):
    @accounts.auth_required()
    @accounts.arguments(s.AccountQuerySchema, location="query")
    @accounts.response(200, s.AccountSchema(many=True))
    @accounts.paginate(SelectPage)
    def get(self, query: dict[str, Any]) -> Any:
        """Accounts in my jurisdiction"""
        return service.list_accounts(current_principal().account, query.get("role"))

    @accounts.auth_required()
    @accounts.arguments(s.AccountSchema)
    @accounts.response(201, s.AccountCreatedSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Create an account; device roles get a one-time activation code"""
        account, code = service.create_account(current_principal().account, data)
        return {"account": account, "activation_code": code}


@accounts.route("/accounts/<string:account_id>")
@accounts.auth_required()
@accounts.response(200, s.AccountSchema)
def get_account(account_id: str) -> Any:
    """One account (404 outside my jurisdiction)"""
    return service.get_account(current_principal().account, account_id)


@accounts.route("/accounts/<string:account_id>/disable", methods=["POST"])
@accounts.auth_required()
@accounts.arguments(s.ReasonSchema)
@accounts.response(200, s.AccountSchema)
def disable_account(data: dict[str, Any], account_id: str) -> Any:
    """Disable an account; its sessions end at once"""
    return service.disable_account(current_principal().account, account_id, data["reason"])


@accounts.route("/accounts/<string:account_id>/identity", methods=["POST"])
@accounts.auth_required()
@accounts.arguments(s.PurposeSchema)
@accounts.response(200, s.IdentitySchema)
def reveal_identity(data: dict[str, Any], account_id: str) -> Any:
    """Reveal the ID number for a stated purpose (audited)"""
    return service.reveal_identity(current_principal().account, account_id, data["purpose"])


@accounts.route("/accounts/<string:account_id>/activation-code", methods=["POST"])
@accounts.auth_required()
@accounts.response(201, s.ActivationCodeSchema)
def new_activation_code(account_id: str) -> Any:
    """Issue a fresh one-time activation code (new phone)"""
    code = service.issue_activation_code(current_principal().account, account_id)
    return {"activation_code": code}


@accounts.route("/accounts/<string:account_id>/devices")
@accounts.auth_required()
@accounts.response(200, s.DeviceSchema(many=True))
def list_devices(account_id: str) -> Any:
    """Devices of an account"""
    return service.list_devices(current_principal().account, account_id)


@accounts.route("/devices/<string:device_id>/revoke", methods=["POST"])
@accounts.auth_required()
@accounts.arguments(s.ReasonSchema)
@accounts.response(200, s.DeviceSchema)
def revoke_device(data: dict[str, Any], device_id: str) -> Any:
    """Revoke a lost or compromised device"""
    return service.revoke_device(current_principal().account, device_id, data["reason"])


@accounts.route("/jurisdictions")
class JurisdictionList(MethodView):
    @accounts.auth_required()
    @accounts.response(200, s.JurisdictionSchema(many=True))
    def get(self) -> Any:
        """Jurisdictions in my subtree"""
        return service.list_jurisdictions(current_principal().account)

    @accounts.auth_required()
    @accounts.arguments(s.JurisdictionSchema)
    @accounts.response(201, s.JurisdictionSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Create a jurisdiction under one of mine (admin)"""
        return service.create_jurisdiction(current_principal().account, data["code"],
                                           data["name"], data["kind"], data["parent_id"])
