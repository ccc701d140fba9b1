"""marathon: fair race-entry sales, one waiting line per course and pace group."""
import logging
from pathlib import Path

from flask import Flask

from marathon.cli import register_commands as add_groups
from marathon.config import config_for, engine_options
from marathon.core.errors import register_error_handlers
from marathon.core.limits import init_limiter
from marathon.core.openapi import serve_swagger_ui
from marathon.core.security import init_jwt
from marathon.extensions import api, db, jwt, migrate, redis_store
from marathon.web import metrics
from marathon.web.bodies import read_bodies_first
from marathon.web.fast_lines import FastLines
from marathon.web.inflight import limit_in_flight


def create_app(test_config=None):
    """Build the app for MARATHON_ENV, or with test_config laid over the testing settings."""
    app = Flask(__name__, instance_relative_config=False)
    env = (test_config or {}).get("ENV_NAME")
    settings = config_for("testing" if test_config is not None and env is None else env).from_environment()
    app.config.update(settings)
    if test_config:
        app.config.update(test_config)
    app.instance_path = str(app.config.get("INSTANCE_PATH", app.instance_path))
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    register_metrics(app)
    register_fast_paths(app)
    register_in_flight_limit(app)
    register_event_streams(app)
    register_body_deadline(app)
    logging.getLogger("rq.worker").setLevel(logging.WARNING)
    return app


def register_extensions(app):
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(app.config)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(app.root_path).parent / "migrations"))
    jwt.init_app(app)
    init_jwt(app)
    redis_store.init_app(app)
    init_limiter(app)
    api.init_app(app)
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    serve_swagger_ui(app)


def register_blueprints(app):
    from marathon.blueprints import auth, fairplay, payment, ticketing
    from marathon.blueprints.pages import bp as pages
    from marathon.health import health

    app.register_blueprint(health)
    app.register_blueprint(pages)
    api.register_blueprint(auth.blp)
    api.register_blueprint(ticketing.blp)
    api.register_blueprint(payment.blp)
    api.register_blueprint(fairplay.blp)


def register_errorhandlers(app):
    register_error_handlers(app)


def register_metrics(app):
    metrics.init_app(app)


def register_fast_paths(app):
    app.wsgi_app = FastLines(app.wsgi_app, app)


def register_in_flight_limit(app):
    limit_in_flight(app)


def register_event_streams(app):
    """Outermost, so that an open stream holds no in-flight slot."""
    from marathon.web.events import EventStreams

    app.wsgi_app = EventStreams(app.wsgi_app, app)


def register_body_deadline(app):
    read_bodies_first(app)  # in front of everything: a body is in memory before its request takes a lane


def register_commands(app):
    add_groups(app)
