"""Fixtures: a private Redis, a migrated database (SQLite, or PostgreSQL from DATABASE_URL), app, clients, users."""
import os
from datetime import date

import pytest
import redis
from flask_migrate import upgrade
from sqlalchemy import text

from marathon import create_app
from marathon.blueprints.payment.providers.fake import FakeProvider
from marathon.config import database_url
from marathon.core.clock import FrozenClock
from marathon.extensions import db
from marathon.tooling.redis_server import RedisServer

PASSWORD = "correct horse battery"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A redis-server of the tests' own: flushing it between tests touches nobody else's data."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def database_uri(tmp_path_factory):
    url = os.environ.get("DATABASE_URL")
    if url:
        return database_url(url)
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def settings(redis_server, database_uri, tmp_path_factory):
    return {
        "REDIS_URL": redis_server.url,
        "SQLALCHEMY_DATABASE_URI": database_uri,
        "INSTANCE_PATH": str(tmp_path_factory.mktemp("instance")),
        # every test runner comes from 127.0.0.1, as in a load test; tests of the per-address limits turn them on
        "RATE_LIMIT_BY_IP": False,
    }


@pytest.fixture(scope="session")
def migrated(settings):
    """The schema, built once per run by the migrations themselves."""
    app = create_app(dict(settings))
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            db.session.commit()
        upgrade()
    return True


def _empty_tables():
    tables = [table.name for table in reversed(db.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            db.session.execute(text(f"DELETE FROM {table}"))
    db.session.commit()


@pytest.fixture
def clock():
    return FrozenClock()


@pytest.fixture
def app(settings, migrated, redis_server, clock):
    app = create_app(dict(settings))
    app.extensions["clock"] = clock
    with app.app_context():
        _empty_tables()
    redis.Redis.from_url(redis_server.url).flushall()
    yield app
    if "event_hub" in app.extensions:  # the reader of pushed status, when a test opened a stream
        app.extensions["event_hub"].stop()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class Users:
    """Makes accounts through the API and hands out their bearer headers."""

    def __init__(self, client):
        self.client = client
        self.count = 0

    def signup(self, email=None, name=None, phone=None, birth_date="1990-05-17", password=PASSWORD):
        self.count += 1
        body = {
            "email": email or f"runner{self.count}@example.com",
            "password": password,
            "name": name or f"Runner {self.count}",
            "birth_date": birth_date,
            "phone": phone or f"010-{1000 + self.count:04d}-{self.count % 10000:04d}",
        }
        response = self.client.post("/api/v1/auth/signup", json=body)
        assert response.status_code == 201, response.get_json()
        return body | {"id": response.get_json()["id"]}

    def login(self, email, password=PASSWORD):
        response = self.client.post("/api/v1/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def headers(self, email=None, password=PASSWORD):
        if email is None:
            email = self.signup()["email"]
        return {"Authorization": f"Bearer {self.login(email, password)['access_token']}"}

    def admin_headers(self, email="admin@example.com", password="admin password 1"):
        from marathon.blueprints.auth.services import make_admin

        with self.client.application.app_context():
            make_admin(email, password)
        return self.headers(email, password)


@pytest.fixture
def users(client):
    return Users(client)


@pytest.fixture
def birth_date():
    return date(1990, 5, 17)


@pytest.fixture
def fake(app):
    """The fake provider, shared by every request of the test, so its calls can be counted."""
    provider = app.extensions["payment_provider"] = FakeProvider()
    return provider
