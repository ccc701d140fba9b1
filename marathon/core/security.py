"""Tokens: flask-jwt-extended set-up, revocation in Redis, role claims and the admin guard."""
import time
from datetime import datetime, timezone
from functools import wraps

import jwt as pyjwt
from flask import current_app, request
from flask_jwt_extended import create_access_token, create_refresh_token, get_jwt, verify_jwt_in_request

from marathon.core.errors import DomainError, error_response
from marathon.extensions import jwt, redis_store

REVOKED_PREFIX = "jwt:revoked:"
# verified access tokens kept per process (about 1 KB each); the cache starts afresh when full
VERIFIED_TOKENS_MAX = 50_000


def issue_tokens(user_id, roles):
    """Return a fresh access and refresh token pair for a user."""
    claims = {"roles": list(roles)}
    identity = str(user_id)
    return {
        "access_token": create_access_token(identity=identity, additional_claims=claims),
        "refresh_token": create_refresh_token(identity=identity, additional_claims=claims),
        "token_type": "Bearer",
        "expires_in": int(current_app.config["JWT_ACCESS_TOKEN_EXPIRES"].total_seconds()),
    }


def revoke(claims):
    """Put a decoded token on the blocklist until it would have expired anyway."""
    ttl = int(claims["exp"] - datetime.now(timezone.utc).timestamp()) + 1
    if ttl > 0:
        redis_store.client.set(REVOKED_PREFIX + claims["jti"], 1, ex=ttl)


def is_revoked(jti):
    return bool(redis_store.client.exists(REVOKED_PREFIX + jti))


def current_user_id():
    return int(get_jwt()["sub"])


def admin_required(view):
    """Allow only a valid access token that carries the admin role (401 without one, 403 without the role)."""

    @wraps(view)
    def guarded(*args, **kwargs):
        verify_jwt_in_request()
        if "admin" not in get_jwt().get("roles", []):
            return error_response(403, "this needs the admin role", "admin_required")
        return view(*args, **kwargs)

    return guarded


def init_jwt(app):
    """Answer every token problem with a JSON 401 that says which problem it is."""

    @jwt.token_in_blocklist_loader
    def _revoked(_header, payload):
        return is_revoked(payload["jti"])

    @jwt.unauthorized_loader
    def _missing(reason):
        return error_response(401, f"missing token: {reason}", "token_missing")

    @jwt.invalid_token_loader
    def _invalid(reason):
        wrong_type = "Only non-refresh tokens" in reason or "Only refresh tokens" in reason
        return error_response(401, f"invalid token: {reason}", "wrong_token_type" if wrong_type else "token_invalid")

    @jwt.expired_token_loader
    def _expired(_header, _payload):
        return error_response(401, "the token has expired", "token_expired")

    @jwt.revoked_token_loader
    def _revoked_answer(_header, _payload):
        return error_response(401, "the token has been revoked", "token_revoked")

    @jwt.user_lookup_error_loader
    def _unknown_user(_header, _payload):
        return error_response(401, "the token's user no longer exists", "token_invalid")


# the OpenAPI security requirement of endpoints that take a bearer token
BEARER = [{"bearerAuth": []}]


def access_claims():
    """Verify the request's access token with PyJWT alone, for the hot paths (join, status).
    The revocation check is left to the caller, which folds it into its own Redis round trip.
    Raises DomainError 401 with the same reasons as the full check."""
    return claims_from_header(request.headers.get("Authorization", ""))


def claims_from_header(header):
    """access_claims() for an Authorization header given as text (the WSGI fast path has no Flask request)."""
    if not header.startswith("Bearer "):
        raise DomainError("missing token: Missing Authorization Header", "token_missing", status=401)
    token, config = header[7:], current_app.config
    leeway = config.get("JWT_DECODE_LEEWAY", 0)
    # a waiting runner sends the same token with every status poll: its signature is checked once per process
    # (PyJWT's HS256 decode was 12 % of a web worker's CPU in the rush); its expiry is checked at every use
    verified = current_app.extensions.setdefault("verified_access_tokens", {})
    claims = verified.get(token)
    if claims is None:
        claims = _decode_access(token, config, leeway)
        if len(verified) >= VERIFIED_TOKENS_MAX:
            verified.clear()
        verified[token] = claims
    elif claims["exp"] <= time.time() - leeway:
        raise DomainError("the token has expired", "token_expired", status=401)
    return claims


def _decode_access(token, config, leeway):
    try:
        claims = pyjwt.decode(
            token, config["JWT_SECRET_KEY"], algorithms=[config.get("JWT_ALGORITHM", "HS256")],
            options={"require": ["exp", "sub", "jti", "type"]}, leeway=leeway,
        )
    except pyjwt.ExpiredSignatureError:
        raise DomainError("the token has expired", "token_expired", status=401) from None
    except pyjwt.PyJWTError as error:
        raise DomainError(f"invalid token: {error}", "token_invalid", status=401) from None
    if claims["type"] != "access":
        raise DomainError("invalid token: Only non-refresh tokens are allowed", "wrong_token_type", status=401)
    return claims


def ensure_not_revoked(claims):
    """Raise DomainError 401 token_revoked if these claims' token was revoked."""
    if is_revoked(claims["jti"]):
        raise DomainError("the token has been revoked", "token_revoked", status=401)
