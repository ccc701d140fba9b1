"""Tokens: flask-jwt-extended set-up, revocation in Redis, role claims and the admin guard."""
import time
import uuid
from datetime import datetime, timezone
from functools import wraps

import jwt as pyjwt
from flask import current_app, request
from flask_jwt_extended import (create_access_token, create_refresh_token, decode_token, get_jwt,
                                verify_jwt_in_request)

from marathon.core.errors import DomainError, error_response
from marathon.extensions import jwt, redis_store

REVOKED_PREFIX = "jwt:revoked:"
# an account's lowest token version still good (the database's users.token_version, mirrored so that every
# token check reads it in the same round trip as the blocklist; refresh and admin routes read the database itself)
VERSION_FLOOR_PREFIX = "jwt:tv:"
# a refresh-token family (one sign-in) -> the jti of its one live refresh token, or "revoked"
FAMILY_PREFIX = "jwt:fam:"
# rotate a family's refresh token: 1 rotated, 0 an older token of a live family (a reuse: the family ends),
# -1 the family was ended or is unknown
ROTATE_SCRIPT = """
local live = redis.call('GET', KEYS[1])
if live == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  return 1
end
if live and live ~= 'revoked' then
  redis.call('SET', KEYS[1], 'revoked', 'EX', ARGV[3])
  return 0
end
return -1
"""
# verified access tokens kept per process (about 1 KB each); the cache starts afresh when full
VERIFIED_TOKENS_MAX = 50_000


def _refresh_seconds():
    return int(current_app.config["JWT_REFRESH_TOKEN_EXPIRES"].total_seconds())


def issue_tokens(user_id, roles, token_version=0, family=None, refresh_jti=None):
    """Return a fresh access and refresh token pair for a user: a new sign-in (a new refresh-token family), or the
    next pair of the family given (whose live jti the caller has already set to refresh_jti)."""
    claims = {"roles": list(roles), "tv": int(token_version)}
    identity = str(user_id)
    refresh_jti = refresh_jti or str(uuid.uuid4())
    if family is None:
        family = uuid.uuid4().hex
        redis_store.client.set(FAMILY_PREFIX + family, refresh_jti, ex=_refresh_seconds())
    return {
        "access_token": create_access_token(identity=identity, additional_claims=claims),
        "refresh_token": create_refresh_token(identity=identity,
                                              additional_claims=claims | {"fam": family, "jti": refresh_jti}),
        "token_type": "Bearer",
        "expires_in": int(current_app.config["JWT_ACCESS_TOKEN_EXPIRES"].total_seconds()),
    }


def rotate_tokens(claims, roles, token_version):
    """The next token pair for a refresh token's claims; its family's older tokens stop working.
    Raises DomainError 401 token_reused (an already rotated token: the whole family ends) or token_revoked."""
    family, next_jti = claims.get("fam"), str(uuid.uuid4())
    if family is None:
        # a refresh token from before rotation: it ends here, and the session goes on as a new family
        revoke(claims)
    else:
        outcome = redis_store.client.eval(ROTATE_SCRIPT, 1, FAMILY_PREFIX + family, claims["jti"], next_jti,
                                          _refresh_seconds())
        if outcome == 0:
            raise DomainError("this refresh token was used before: every session it belongs to is ended",
                              "token_reused", status=401)
        if outcome != 1:
            raise DomainError("the token has been revoked", "token_revoked", status=401)
    return issue_tokens(claims["sub"], roles, token_version, family=family, refresh_jti=next_jti)


def revoke(claims):
    """Put a decoded token on the blocklist until it would have expired anyway; a refresh token's whole family
    (the sign-in it belongs to) ends with it."""
    ttl = int(claims["exp"] - datetime.now(timezone.utc).timestamp()) + 1
    if ttl > 0:
        redis_store.client.set(REVOKED_PREFIX + claims["jti"], 1, ex=ttl)
    if claims.get("fam"):
        redis_store.client.set(FAMILY_PREFIX + claims["fam"], "revoked", ex=_refresh_seconds())


def revoke_versions_below(user_id, version):
    """Every token of the account whose version is below this one stops working (the database's counter was just
    bumped to it)."""
    redis_store.client.set(f"{VERSION_FLOOR_PREFIX}{int(user_id)}", int(version), ex=_refresh_seconds() + 60)


def is_revoked(claims):
    """Whether a decoded token was revoked, by itself or by its account's version: one Redis round trip."""
    revoked, floor = redis_store.client.mget(REVOKED_PREFIX + claims["jti"], f"{VERSION_FLOOR_PREFIX}{claims['sub']}")
    return bool(revoked) or (floor is not None and int(claims.get("tv", 0)) < int(floor))


def decode(token, allow_expired=False):
    """A token's verified claims (signature, and expiry unless allowed); raises DomainError 401 token_expired or
    token_invalid. Revocation is the caller's to check."""
    try:
        return decode_token(token, allow_expired=allow_expired)
    except pyjwt.ExpiredSignatureError:
        raise DomainError("the token has expired", "token_expired", status=401) from None
    except (pyjwt.PyJWTError, ValueError, TypeError, KeyError) as error:
        raise DomainError(f"invalid token: {type(error).__name__}", "token_invalid", status=401) from None


def current_user_id():
    return int(get_jwt()["sub"])


def set_account_lookup(app, lookup):
    """Name the function that gives an account's (token_version, roles) from the database, or None for no such
    account; the auth blueprint sets it, since core knows no blueprint."""
    app.extensions["token_account_lookup"] = lookup


def check_account(claims):
    """Raise DomainError 401 token_revoked unless the token's version is the account's, as the database has it
    now (the Redis mirror of the version may be lost; the database is the record). Returns the account's roles."""
    lookup = current_app.extensions.get("token_account_lookup")
    if lookup is None:
        raise RuntimeError("no token account lookup set: the auth blueprint registers it")
    account = lookup(claims["sub"])
    if account is None or int(claims.get("tv", 0)) != account[0]:
        raise DomainError("the token has been revoked", "token_revoked", status=401)
    return account[1]


def admin_required(view):
    """Allow only a valid access token that carries the admin role, of an account that is still an admin with
    that token's version (401 without one or with an older version, 403 without the role)."""

    @wraps(view)
    def guarded(*args, **kwargs):
        verify_jwt_in_request()
        claims = get_jwt()
        if "admin" not in claims.get("roles", []):
            return error_response(403, "this needs the admin role", "admin_required")
        if "admin" not in check_account(claims):
            return error_response(403, "this needs the admin role", "admin_required")
        return view(*args, **kwargs)

    return guarded


def init_jwt(app):
    """Answer every token problem with a JSON 401 that says which problem it is."""

    @jwt.token_in_blocklist_loader
    def _revoked(_header, payload):
        return is_revoked(payload)

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
    if is_revoked(claims):
        raise DomainError("the token has been revoked", "token_revoked", status=401)
