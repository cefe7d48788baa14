"""Sending a request's nonce round trip as it arrives, before Flask dispatches it.

A Redis round trip costs a served worker about 150 us of wall time on this
machine, most of it waiting for Redis to wake and answer, and the proof check
it already overlaps (nonces.py) is shorter than that. Flask's own dispatch of
the request (contexts, URL matching, before-request hooks), which every request
pays, runs before authenticate() does: sending the round trip when the request
arrives hides the wait behind that work as well (bench/bench_auth.py measures
it: about 100 us less per authenticated request served).

Only for a token this process has already verified (its claims are in the
verified-token cache, tokens.py): the keys read are that token's own, and an
unknown or forged token costs Redis nothing before it is checked. Nothing is
decided here: authenticate() verifies the token and the proof as before and
takes the reply (claim()); a reply nobody takes (a 404, a route without
authentication) is read after the response, so its connection goes back to
the pool clean. The jti is burned either way, as a proof that fails its check
already burns it (nonces.py says why that costs nothing).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from flask import Flask, request
from redis.exceptions import RedisError

from server.identity import nonces, tokens, validity
from shared.proof import ProofError, ReadProof, read_proof

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

ENVIRON_KEY = "shouwang.early_burn"


class Early:
    """A round trip sent for a request's proof, with the proof as read for it and
    the claims the verified-token cache held for its token."""

    def __init__(self, token: str, claims: tokens.AccessClaims, proof: str, read: ReadProof,
                 burn: nonces.Burn) -> None:
        self.token, self.claims, self.proof, self.read, self.burn = token, claims, proof, read, burn
        self.claimed = False


class EarlyBurn:
    """WSGI middleware around the Flask app (create_app installs it)."""

    def __init__(self, app: Flask, wsgi_app: WSGIApplication) -> None:
        self.app, self.wsgi_app = app, wsgi_app

    def __call__(self, environ: WSGIEnvironment,
                 start_response: StartResponse) -> Iterable[bytes]:
        early = self._send(environ)
        if early is None:
            return self.wsgi_app(environ, start_response)
        environ[ENVIRON_KEY] = early
        try:
            return self.wsgi_app(environ, start_response)
        finally:
            early.burn.close()

    def _send(self, environ: WSGIEnvironment) -> Early | None:
        proof = environ.get("HTTP_DPOP")
        scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        if not proof or scheme != "DPoP":
            return None
        token = token.strip()
        claims = tokens.cached_claims(self.app, token)
        if claims is None:
            return None
        try:
            read = read_proof(proof)
            return Early(token, claims, proof, read, nonces.Burn(
                read.jti, validity.keys(claims.sid, claims.sub, claims.jkt),
                self.app.extensions["shouwang.redis"]))
        except (ProofError, RedisError):
            return None  # authenticate() meets the same and answers for it


def early_claims(token: str) -> tokens.AccessClaims | None:
    """What the verified-token cache held for this very token as the request arrived
    (tokens.verify_access_token still checks its signing key is published)."""
    early: Early | None = request.environ.get(ENVIRON_KEY)
    return early.claims if early is not None and early.token == token else None


def early_proof(proof: str) -> ReadProof | None:
    """The request's proof as the middleware read it, if it read this one."""
    early: Early | None = request.environ.get(ENVIRON_KEY)
    return early.read if early is not None and early.proof == proof else None


def claim(jti: str, also_get: list[str]) -> nonces.Burn:
    """The round trip for `jti`: the one sent early if there was one for it (once),
    else one sent now. The early one read the keys authenticate() asks for; a caller
    asking none (check_request_proof) takes its verdict on the jti alone."""
    early: Early | None = request.environ.get(ENVIRON_KEY)
    if early is None or early.claimed or early.burn.jti != jti:
        return nonces.Burn(jti, also_get)
    if also_get and also_get != early.burn.also_get:
        # Its jti is burned already: a second round trip would call it replayed.
        raise ValueError("the early round trip read other keys than these")
    early.claimed = True
    return early.burn
