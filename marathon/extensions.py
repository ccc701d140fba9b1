"""Extension objects, created here without an app and initialised in the factory."""
from flask_jwt_extended import JWTManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData

from marathon.core.errors import ErrorSchema
from marathon.core.net import client_ip
from marathon.core.openapi import CommonResponses
from marathon.core.ratelimiter import AppLimiter
from marathon.core.redis import RedisStore


class MarathonApi(Api):
    """flask-smorest's Api, documenting our error body (with `reason`) as every operation's error response."""

    ERROR_SCHEMA = ErrorSchema


# Named constraints keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING))
migrate = Migrate()
jwt = JWTManager()
api = MarathonApi(spec_kwargs={"extra_plugins": [CommonResponses()]})
redis_store = RedisStore()
# no default limits: each limited endpoint says its own (marathon.core.limits), so nothing else pays a round trip
limiter = AppLimiter(key_func=client_ip)
