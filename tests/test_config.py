"""Production refuses to start with settings an attacker could use: the fake provider, development or short keys."""
import pytest

from marathon.config import config_for, ConfigError, ProductionConfig

GOOD = {"SECRET_KEY": "9f1c2d7a4be35860c1d2e3f4a5b6c7d8", "JWT_SECRET_KEY": "J7kQ2mX9vR4tY8wZ3nB6cF1hL5pS0dG2",
        "DATABASE_URL": "postgresql://x/y", "REDIS_URL": "redis://127.0.0.1:6379/0", "PAYMENT_PROVIDER": "toss",
        "TOSS_SECRET_KEY": "live_sk_abc", "PAYMENT_WEBHOOK_SECRET": "w3bh00k-Secret-0f-32-bytes-or-m0re"}


def test_good_production_settings_start():
    settings = ProductionConfig.from_environment(dict(GOOD))
    assert settings["PAYMENT_PROVIDER"] == "toss"


@pytest.mark.parametrize("change, named", [
    ({"PAYMENT_PROVIDER": None}, "PAYMENT_PROVIDER"),
    ({"PAYMENT_PROVIDER": "fake"}, "PAYMENT_PROVIDER"),
    ({"PAYMENT_WEBHOOK_SECRET": None}, "PAYMENT_WEBHOOK_SECRET"),
    ({"PAYMENT_WEBHOOK_SECRET": "dev-webhook-secret-not-for-production"}, "PAYMENT_WEBHOOK_SECRET"),
    ({"SECRET_KEY": "x"}, "SECRET_KEY"),
    ({"SECRET_KEY": "dev-secret-key-not-for-production"}, "SECRET_KEY"),
    ({"SECRET_KEY": "s" * 40}, "SECRET_KEY"),
    ({"JWT_SECRET_KEY": "dev-jwt-secret-key-not-for-production-use"}, "JWT_SECRET_KEY"),
    ({"JWT_SECRET_KEY": "short-but-not-that-short-key"}, "JWT_SECRET_KEY"),
    ({"SECRET_KEY": GOOD["JWT_SECRET_KEY"]}, "SECRET_KEY"),
    ({"ALTCHA_HMAC_KEY": "changeme"}, "ALTCHA_HMAC_KEY"),
    ({"TOSS_SECRET_KEY": None}, "TOSS_SECRET_KEY"),
])
def test_production_refuses(change, named):
    env = dict(GOOD)
    for key, value in change.items():
        if value is None:
            env.pop(key)
        else:
            env[key] = value
    with pytest.raises(ConfigError, match=named):
        ProductionConfig.from_environment(env)


def test_fake_payments_in_production_only_when_asked_for_by_name():
    env = dict(GOOD, PAYMENT_PROVIDER="fake", ALLOW_FAKE_PAYMENTS="on")
    env.pop("TOSS_SECRET_KEY")
    assert ProductionConfig.from_environment(env)["PAYMENT_PROVIDER"] == "fake"
    env.pop("PAYMENT_WEBHOOK_SECRET")  # and even then the public development secret is never the webhook's key
    with pytest.raises(ConfigError, match="PAYMENT_WEBHOOK_SECRET"):
        ProductionConfig.from_environment(env)


def test_database_time_outs_reach_the_engine():
    """A hanging database answers 503 instead of hanging: PostgreSQL gets connect, statement and TCP time-outs, the
    pool a bounded wait; SQLite keeps its own options (its busy timeout bounds lock waits)."""
    from marathon.config import engine_options

    settings = {"SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True}, "DATABASE_STATEMENT_TIMEOUT_MS": 10_000,
                "DATABASE_CONNECT_TIMEOUT_S": 5,
                "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://u@db/marathon"}
    assert engine_options(settings) == {
        "pool_pre_ping": True, "pool_timeout": 5, "pool_size": 16, "max_overflow": 16,
        "connect_args": {"connect_timeout": 5, "tcp_user_timeout": 5000, "options": "-c statement_timeout=10000"}}
    assert engine_options(settings | {"SQLALCHEMY_DATABASE_URI": "sqlite:///x.db"}) == {"pool_pre_ping": True}
    env = {"DATABASE_STATEMENT_TIMEOUT_MS": "2500", "DATABASE_CONNECT_TIMEOUT_S": "3"}
    loaded = config_for("development").from_environment(env)
    assert (loaded["DATABASE_STATEMENT_TIMEOUT_MS"], loaded["DATABASE_CONNECT_TIMEOUT_S"]) == (2500, 3)
