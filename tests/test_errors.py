"""Every error is JSON in one shape; health and docs answer."""
import pytest
from flask import Blueprint

from marathon import create_app
from marathon.config import ConfigError
from marathon.core.security import admin_required


def test_unknown_path_and_wrong_method_are_json(client):
    missing = client.get("/no/such/path")
    assert missing.status_code == 404
    assert missing.get_json()["code"] == 404 and missing.get_json()["status"] == "Not Found"
    wrong = client.delete("/api/v1/auth/login")
    assert wrong.status_code == 405 and wrong.get_json()["code"] == 405


def test_too_large_body_is_413(client):
    response = client.post("/api/v1/auth/login", data="x" * (70 * 1024), headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and response.get_json()["code"] == 413


def test_health_ready_and_docs(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    spec = client.get("/api/openapi.json").get_json()
    assert spec["openapi"].startswith("3.") and "/api/v1/auth/signup" in spec["paths"]
    assert client.get("/api/docs").status_code == 200


def test_readyz_is_503_when_redis_is_away(settings):
    app = create_app(dict(settings, REDIS_URL="redis://127.0.0.1:1/0"))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    assert response.get_json()["errors"]["dependencies"]["redis"]


def test_redis_away_on_an_api_route_is_503_with_retry_after(settings, migrated, users):
    app = create_app(dict(settings, REDIS_URL="redis://127.0.0.1:1/0"))
    client = app.test_client()
    headers = users.headers()
    response = client.get("/api/v1/auth/me", headers=headers)
    assert response.status_code == 503
    assert response.headers["Retry-After"] and response.get_json()["reason"] == "unavailable"


def test_database_away_is_503(settings, users):
    headers = users.headers()
    app = create_app(dict(settings, SQLALCHEMY_DATABASE_URI="postgresql+psycopg://nobody@127.0.0.1:1/none"))
    response = app.test_client().get("/api/v1/auth/me", headers=headers)
    assert response.status_code == 503 and response.headers["Retry-After"]


def test_unexpected_exception_is_a_json_500(settings):
    app = create_app(dict(settings))
    boom = Blueprint("boom", __name__)

    @boom.get("/boom")
    def explode():
        raise RuntimeError("boom")

    app.register_blueprint(boom)
    response = app.test_client().get("/boom")
    assert response.status_code == 500
    assert response.get_json() == {"code": 500, "status": "Internal Server Error", "message": "internal error",
                                   "reason": "internal_error"}


def test_runner_on_admin_route_is_403_and_anonymous_401(settings, migrated, users):
    app = create_app(dict(settings))
    guarded = Blueprint("guarded", __name__)

    @guarded.get("/guarded")
    @admin_required
    def only_admins():
        return {"ok": True}

    app.register_blueprint(guarded)
    client = app.test_client()
    assert client.get("/guarded").status_code == 401
    runner = client.get("/guarded", headers=users.headers())
    assert runner.status_code == 403 and runner.get_json()["reason"] == "admin_required"
    assert client.get("/guarded", headers=users.admin_headers()).status_code == 200


@pytest.mark.parametrize("missing", ["SECRET_KEY", "JWT_SECRET_KEY", "DATABASE_URL", "REDIS_URL"])
def test_production_refuses_to_start_without_its_settings(monkeypatch, missing):
    env = {"SECRET_KEY": "s" * 32, "JWT_SECRET_KEY": "j" * 32, "DATABASE_URL": "postgresql://x/y",
           "REDIS_URL": "redis://127.0.0.1:6379/0", "MARATHON_ENV": "production"}
    env.pop(missing)
    for key in ("SECRET_KEY", "JWT_SECRET_KEY", "DATABASE_URL", "REDIS_URL"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match=missing):
        create_app()
