"""Rate limits: flask-limiter on the app's Redis, per address only while RATE_LIMIT_BY_IP is on."""
from flask import current_app, request

from marathon.core.net import client_ip
from marathon.extensions import limiter


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


def _login_account_key():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):  # a JSON number, list or string: the schema refuses it, the key must not fail
        body = {}
    email = str(body.get("email", "")).strip().lower()[:254]
    return f"acct:{email}|{client_ip()}"


def failed_logins():
    """Failed logins per email and address: password guessing against one account (always on)."""
    return limiter.limit(
        lambda: current_app.config["RATELIMIT_LOGIN_PER_ACCOUNT"], key_func=_login_account_key,
        scope="login_per_account", deduct_when=lambda response: response.status_code == 401,
    )


