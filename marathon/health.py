"""Liveness and readiness probes."""
from flask import Blueprint
from sqlalchemy import text

from marathon.core.errors import error_response
from marathon.extensions import db, redis_store

health = Blueprint("health", __name__)


@health.get("/healthz")
def healthz():
    return {"status": "ok"}


@health.get("/readyz")
def readyz():
    problems = {}
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as error:  # any failure means not ready
        db.session.rollback()
        problems["database"] = type(error).__name__
    try:
        redis_store.client.ping()
    except Exception as error:
        problems["redis"] = type(error).__name__
    if problems:
        return error_response(503, "not ready", "unavailable", {"dependencies": problems}, {"Retry-After": 2})
    return {"status": "ready"}
