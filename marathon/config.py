"""Settings, one class per environment; production refuses to start without its secrets."""
import hashlib
import hmac
import os
from datetime import timedelta
from pathlib import Path

INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"


class ConfigError(RuntimeError):
    """A required setting is missing or wrong."""


def database_url(url):
    """Give a Heroku-style or plain PostgreSQL URL the psycopg 3 driver, which cooperates with gevent."""
    if url and url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url and url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def engine_options(settings):
    """SQLAlchemy engine options with the database time-outs of these settings laid over SQLALCHEMY_ENGINE_OPTIONS:
    PostgreSQL gets libpq's connect_timeout and the server-side statement_timeout; SQLite its busy timeout."""
    options = dict(settings.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    uri = str(settings.get("SQLALCHEMY_DATABASE_URI") or "")
    connect_s = settings.get("DATABASE_CONNECT_TIMEOUT_S")
    statement_ms = settings.get("DATABASE_STATEMENT_TIMEOUT_MS")
    connect_args = dict(options.get("connect_args") or {})
    if uri.startswith("postgresql"):
        # a gevent web worker serves hundreds of requests at once: 16 connections each (up to 32 in a burst) keep its
        # payments from queueing for a connection (SQLAlchemy's default is 5 + 10, which timed payments out into
        # 503s in the rush); PostgreSQL's default 100 connections still fit two web and two worker processes
        options.setdefault("pool_size", 16)
        options.setdefault("max_overflow", 16)
        if connect_s:
            connect_args.setdefault("connect_timeout", max(2, int(connect_s)))  # libpq reads under 2 as 2
            # a server gone from the network (sent data never acknowledged) ends the connection after this too
            connect_args.setdefault("tcp_user_timeout", int(connect_s * 1000))
        if statement_ms:
            connect_args.setdefault("options", f"-c statement_timeout={int(statement_ms)}")
    if connect_args:
        options["connect_args"] = connect_args
    if connect_s and not uri.startswith("sqlite"):
        options.setdefault("pool_timeout", connect_s)
    return options


def derived_key(secret, purpose):
    """A key for one purpose, derived from SECRET_KEY, so one leaked key does not give away the others."""
    return hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).hexdigest()


# the smallest signing key production accepts, in bytes (HS256's own key size)
MIN_KEY_BYTES = 32
# below this many distinct characters a key is a placeholder ("x" * 40), not a random one
MIN_KEY_DISTINCT = 8
PLACEHOLDER_WORDS = ("changeme", "change-me", "change_me", "replace-me", "replaceme", "your-secret", "not-for-production",
                     "dev-secret")


def _weak_key(name, value, known):
    """Why a production key is unfit, or None: missing, a known development value, short, or plainly a placeholder."""
    if not value:
        return f"{name} is not set"
    if value in known:
        return f"{name} is a development value, published in the source"
    if len(value.encode()) < MIN_KEY_BYTES:
        return f"{name} is shorter than {MIN_KEY_BYTES} bytes"
    if len(set(value)) < MIN_KEY_DISTINCT or any(word in value.lower() for word in PLACEHOLDER_WORDS):
        return f"{name} looks like a placeholder, not a random key"
    return None


def _flag(value):
    return str(value).strip().lower() not in ("off", "0", "false", "no", "")


class Config:
    ENV_NAME = "development"
    SECRET_KEY = "dev-secret-key-not-for-production"
    JWT_SECRET_KEY = "dev-jwt-secret-key-not-for-production-use"
    SQLALCHEMY_DATABASE_URI = f"sqlite:///{INSTANCE_DIR / 'marathon.db'}"
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    # a database that hangs instead of refusing: no statement (lock waits included) runs longer than this on
    # PostgreSQL, and nobody waits longer than this for a connection (to the server, or from the pool); the request
    # then answers 503 with Retry-After (marathon.core.errors) instead of hanging
    DATABASE_STATEMENT_TIMEOUT_MS = 10_000
    DATABASE_CONNECT_TIMEOUT_S = 5
    REDIS_URL = None
    REDIS_MAX_CONNECTIONS = 64
    REDIS_POOL_TIMEOUT = 5.0
    PAYMENT_PROVIDER = "fake"
    # production refuses the fake provider unless this says, by name, that it is wanted (a load test)
    ALLOW_FAKE_PAYMENTS = False
    TOSS_SECRET_KEY = None
    # the widget's public key, handed to the browser in an order's checkout
    TOSS_CLIENT_KEY = None
    TOSS_API_URL = "https://api.tosspayments.com"
    # HMAC-SHA256 key of the X-Marathon-Signature header on POST /api/v1/payments/webhook
    PAYMENT_WEBHOOK_SECRET = "dev-webhook-secret-not-for-production"
    # how long a duplicate confirm waits for the one that talks to the provider; a claim older than this is stale
    PAYMENT_CONFIRM_WAIT_SECONDS = 15
    PAYMENT_CLAIM_STALE_SECONDS = 90
    PROXY_HOPS = 0
    # GET /metrics wants `Authorization: Bearer <METRICS_TOKEN>` when set; production without it serves no metrics
    METRICS_TOKEN = None
    RATE_LIMIT_BY_IP = True
    MAX_CONTENT_LENGTH = 64 * 1024
    # a waiting runner who has not asked for status for this long when their turn comes is skipped
    # how long a bucket's admission lease lives without renewal (its owner renews it a few times a lifetime)
    ADMISSION_LEASE_MS = 5000
    LINE_IDLE_SECONDS = 30
    # at most this many places of a bucket held (admitted, unpaid) at once; 0 = every free place at once
    ADMIT_WINDOW_PER_BUCKET = 0
    # official transfers one account may give per race (0 = none); a sender cannot join that race's line again
    TRANSFERS_PER_RACE = 1
    # seconds a request's whole body may take to arrive (read before the request takes a lane): 408 after that
    BODY_READ_TIMEOUT_S = 10
    # requests a gevent web worker runs at once per lane (joins, reads, other writes); 0 = no bound
    WEB_MAX_IN_FLIGHT = 64

    # proof of work (ALTCHA): the HMAC key defaults to one derived from SECRET_KEY
    ALTCHA_HMAC_KEY = None
    POW_CHALLENGE_SECONDS = 300
    # ALTCHA v2, PBKDF2/SHA-256: iterations of one attempt (the server pays one at each challenge), and how many
    # difficulty points one attempt is worth (the counter's bound is pow_difficulty / this; README "Fair play")
    POW_ITERATIONS = 1000
    POW_DIFFICULTY_PER_ATTEMPT = 10
    # challenges asked per second of one race above which the difficulty doubles (x4 above 4 times this)
    POW_SPIKE_PER_S = 300

    # rate limits (flask-limiter on the app's Redis); per address only when RATE_LIMIT_BY_IP is on, and generous,
    # since Korean mobile carriers put many runners behind one address
    RATELIMIT_HEADERS_ENABLED = True
    # while Redis is away, limits are not counted rather than every response failing in flask-limiter's
    # after-request header injection (a 500): the routes that need Redis answer 503 by themselves
    RATELIMIT_SWALLOW_ERRORS = True
    RATELIMIT_STRATEGY = "fixed-window"
    RATELIMIT_KEY_PREFIX = "m:rl"
    RATELIMIT_SIGNUP_PER_IP = "60/minute;600/hour"
    # signups answered email_taken / identity_taken per address: what enumerating accounts needs
    RATELIMIT_SIGNUP_TAKEN_PER_IP = "30/hour;200/day"
    RATELIMIT_LOGIN_PER_ACCOUNT = "10/minute;50/hour"  # failed logins per email and address
    RATELIMIT_LOGIN_PER_IP = "120/minute"
    # failed logins of one account from any address: past this many, each try waits twice as long (1 s, 2 s, ...);
    # twice the per-address limit, so that guessing from one address does not lock the owner out elsewhere
    LOGIN_BACKOFF_AFTER = 20
    LOGIN_BACKOFF_MAX_S = 900
    LOGIN_BACKOFF_WINDOW_S = 3600
    RATELIMIT_JOIN_PER_IP = "600/minute"
    RATELIMIT_STATUS_PER_IP = "6000/minute"
    RATELIMIT_POW_PER_IP = "1200/minute"
    # webhook deliveries per address, even while RATE_LIMIT_BY_IP is off (Toss sends from a few addresses, up to
    # one delivery per payment: a rush of 15,000 payments in ten minutes is about 1,500 a minute)
    RATELIMIT_WEBHOOK_PER_IP = "3000/minute"
    # an unsigned webhook makes us ask the provider about its order at most once per this many seconds
    WEBHOOK_ASK_INTERVAL_S = 5

    JWT_ACCESS_TOKEN_EXPIRES = timedelta(minutes=15)
    JWT_REFRESH_TOKEN_EXPIRES = timedelta(days=30)
    JWT_TOKEN_LOCATION = ["headers"]

    # Argon2id cost: the library's defaults (3 passes over 64 MiB) outside tests.
    ARGON2_TIME_COST = 3
    ARGON2_MEMORY_COST = 65536

    API_TITLE = "marathon"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "/docs"
    # Swagger UI's files from the installed swagger-ui-bundle package (marathon.core.openapi), never a CDN
    OPENAPI_SWAGGER_UI_URL = "/api/docs/static/"

    REQUIRED = ()

    @classmethod
    def from_environment(cls, environ=None):
        """Return the settings as a dict, environment variables over class defaults; raises ConfigError."""
        env = os.environ if environ is None else environ
        missing = [name for name in cls.REQUIRED if not env.get(name)]
        if missing:
            raise ConfigError(f"{cls.ENV_NAME} refuses to start: set {', '.join(missing)} in the environment")
        settings = {key: getattr(cls, key) for key in dir(cls) if key.isupper()}
        for key in ("SECRET_KEY", "JWT_SECRET_KEY", "REDIS_URL", "PAYMENT_PROVIDER", "TOSS_SECRET_KEY", "TOSS_CLIENT_KEY",
                    "TOSS_API_URL", "PAYMENT_WEBHOOK_SECRET", "METRICS_TOKEN"):
            if env.get(key):
                settings[key] = env[key]
        if env.get("DATABASE_URL"):
            settings["SQLALCHEMY_DATABASE_URI"] = database_url(env["DATABASE_URL"])
        for key in ("PROXY_HOPS", "REDIS_MAX_CONNECTIONS", "ADMIT_WINDOW_PER_BUCKET", "LINE_IDLE_SECONDS",
                    "WEB_MAX_IN_FLIGHT", "ADMISSION_LEASE_MS", "TRANSFERS_PER_RACE", "BODY_READ_TIMEOUT_S",
                    "DATABASE_STATEMENT_TIMEOUT_MS", "DATABASE_CONNECT_TIMEOUT_S", "PAYMENT_CLAIM_STALE_SECONDS"):
            if env.get(key):
                settings[key] = int(env[key])
        if env.get("RATE_LIMIT_BY_IP"):
            settings["RATE_LIMIT_BY_IP"] = _flag(env["RATE_LIMIT_BY_IP"])
        if env.get("JWT_ACCESS_SECONDS"):
            settings["JWT_ACCESS_TOKEN_EXPIRES"] = timedelta(seconds=int(env["JWT_ACCESS_SECONDS"]))
        if env.get("JWT_REFRESH_SECONDS"):
            settings["JWT_REFRESH_TOKEN_EXPIRES"] = timedelta(seconds=int(env["JWT_REFRESH_SECONDS"]))
        settings["ALTCHA_HMAC_KEY"] = env.get("ALTCHA_HMAC_KEY") or derived_key(settings["SECRET_KEY"], "altcha")
        if settings["PAYMENT_PROVIDER"] not in ("fake", "toss"):
            raise ConfigError(f"PAYMENT_PROVIDER must be fake or toss, not {settings['PAYMENT_PROVIDER']!r}")
        if settings["PAYMENT_PROVIDER"] == "toss" and not settings["TOSS_SECRET_KEY"]:
            raise ConfigError("PAYMENT_PROVIDER=toss needs TOSS_SECRET_KEY")
        if env.get("ALLOW_FAKE_PAYMENTS"):
            settings["ALLOW_FAKE_PAYMENTS"] = _flag(env["ALLOW_FAKE_PAYMENTS"])
        cls.check(settings, env)
        return settings

    @classmethod
    def check(cls, settings, env):
        """Refuse settings this environment must not run with; raises ConfigError."""


class DevelopmentConfig(Config):
    pass


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 1024


class ProductionConfig(Config):
    ENV_NAME = "production"
    REQUIRED = ("SECRET_KEY", "JWT_SECRET_KEY", "DATABASE_URL", "REDIS_URL", "PAYMENT_PROVIDER")

    @classmethod
    def check(cls, settings, env):
        """No development secret, no short or placeholder key, and a real payment provider: the fake one takes any
        `fake_` key as paid, so it runs here only when ALLOW_FAKE_PAYMENTS=on says so by name (a load test)."""
        if settings["PAYMENT_PROVIDER"] == "fake" and not settings["ALLOW_FAKE_PAYMENTS"]:
            raise ConfigError("production refuses to start: PAYMENT_PROVIDER=fake registers runners who never paid "
                              "(use toss; a load test sets ALLOW_FAKE_PAYMENTS=on)")
        known = {Config.SECRET_KEY, Config.JWT_SECRET_KEY, Config.PAYMENT_WEBHOOK_SECRET}
        problems = [_weak_key(name, env.get(name), known)
                    for name in ("SECRET_KEY", "JWT_SECRET_KEY", "PAYMENT_WEBHOOK_SECRET")]
        if env.get("ALTCHA_HMAC_KEY"):
            problems.append(_weak_key("ALTCHA_HMAC_KEY", env["ALTCHA_HMAC_KEY"], known))
        if env.get("SECRET_KEY") and env.get("SECRET_KEY") == env.get("JWT_SECRET_KEY"):
            problems.append("SECRET_KEY and JWT_SECRET_KEY are the same key")
        problems = [problem for problem in problems if problem]
        if problems:
            raise ConfigError("production refuses to start: " + "; ".join(problems))


CONFIGS = {"development": DevelopmentConfig, "testing": TestingConfig, "production": ProductionConfig}


def config_for(env_name=None):
    """Return the settings class for MARATHON_ENV (or the given name); raises ConfigError if unknown."""
    name = env_name or os.environ.get("MARATHON_ENV", "development")
    try:
        return CONFIGS[name]
    except KeyError:
        raise ConfigError(f"MARATHON_ENV must be one of {', '.join(CONFIGS)}, not {name!r}") from None
