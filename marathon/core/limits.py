"""Rate limits: flask-limiter on the app's Redis, per address only while RATE_LIMIT_BY_IP is on."""
import hashlib
import math
from functools import wraps

from flask import current_app, request
from limits import parse_many

from marathon.core.clock import now, to_ms
from marathon.core.errors import DomainError
from marathon.core.net import client_ip
from marathon.extensions import limiter, redis_store

BACKOFF_KEY = "m:login:backoff:"


def init_limiter(app):
    """Put the limiter's counters in the app's Redis, through the app's own blocking pool (no second pool)."""
    app.config["RATELIMIT_STORAGE_URI"] = app.config["REDIS_URL"]
    app.config["RATELIMIT_STORAGE_OPTIONS"] = {"connection_pool": app.extensions["redis"].connection_pool}
    limiter.init_app(app)


def ip_limits_off():
    """True when per-address limits are off (a load test sending every runner from one address)."""
    return not current_app.config["RATE_LIMIT_BY_IP"]


def per_ip(setting, methods=None):
    """A per-address limit read from the setting named; skipped, with no Redis round trip, while they are off."""
    return limiter.limit(
        lambda: current_app.config[setting], key_func=lambda: f"ip:{client_ip()}", scope=setting.lower(),
        exempt_when=ip_limits_off, methods=methods,
    )


def always_per_ip(setting):
    """A per-address limit that holds even while RATE_LIMIT_BY_IP is off (an endpoint no load test drives)."""
    return limiter.limit(lambda: current_app.config[setting], key_func=lambda: f"ip:{client_ip()}",
                         scope=setting.lower())


def taken_answers_per_ip(setting):
    """Answers 409 (an email or a person already has an account) per address: each tells a prober something."""
    return limiter.limit(
        lambda: current_app.config[setting], key_func=lambda: f"ip:{client_ip()}", scope=setting.lower(),
        exempt_when=ip_limits_off, deduct_when=lambda response: response.status_code == 409,
    )


def _login_email():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):  # a JSON number, list or string: the schema refuses it, the key must not fail
        body = {}
    return str(body.get("email", "")).strip().lower()[:254]


def _login_account_key():
    return f"acct:{_login_email()}|{client_ip()}"


def login_backoff(view):
    """Failed logins per account from any address: past LOGIN_BACKOFF_AFTER of them (within LOGIN_BACKOFF_WINDOW_S
    of the last), the next try waits 1 s after the last failure, then 2, 4, ... up to LOGIN_BACKOFF_MAX_S; 429 with
    Retry-After meanwhile, whatever the password, for known and unknown emails alike. A success clears the count."""

    @wraps(view)
    def guarded(*args, **kwargs):
        key = BACKOFF_KEY + hashlib.sha256(_login_email().encode()).hexdigest()[:32]
        config, client = current_app.config, redis_store.client
        failures, last_ms = client.hmget(key, "n", "last")
        if failures is not None and int(failures) >= config["LOGIN_BACKOFF_AFTER"]:
            wait_s = min(2 ** (int(failures) - config["LOGIN_BACKOFF_AFTER"]), config["LOGIN_BACKOFF_MAX_S"])
            left_ms = int(last_ms or 0) + wait_s * 1000 - to_ms(now())
            if left_ms > 0:
                # flask-limiter's header hook rewrites Retry-After as int(int(now + value) - now), up to 1 s less
                raise DomainError("too many failed logins for this account; try again later", "rate_limited",
                                  status=429, headers={"Retry-After": math.ceil(left_ms / 1000) + 1})
        try:
            answer = view(*args, **kwargs)
        except DomainError as error:
            if error.status == 401:
                pipe = client.pipeline()
                pipe.hincrby(key, "n", 1)
                pipe.hset(key, "last", to_ms(now()))
                pipe.expire(key, config["LOGIN_BACKOFF_WINDOW_S"])
                pipe.execute()
            raise
        if failures is not None:
            client.delete(key)
        return answer

    return guarded


def failed_logins():
    """Failed logins per email and address: password guessing against one account (always on)."""
    return limiter.limit(
        lambda: current_app.config["RATELIMIT_LOGIN_PER_ACCOUNT"], key_func=_login_account_key,
        scope="login_per_account", deduct_when=lambda response: response.status_code == 401,
    )




def lean_limit(setting):
    """(requests, window ms) of a per-address limit that a Lua script counts itself, in the same round trip as the
    request's own work (the join and the status poll): the first item of the setting (e.g. '600/minute'), or (0, 1)
    while per-address limits are off. Parsed once per app."""
    if ip_limits_off():
        return 0, 1
    cache = current_app.extensions.setdefault("lean_limits", {})
    found = cache.get(setting)
    if found is None:
        item = parse_many(current_app.config[setting])[0]
        found = cache[setting] = (item.amount, item.get_expiry() * 1000)
    return found
