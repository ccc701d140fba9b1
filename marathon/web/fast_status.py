"""GET /api/v1/races/{race}/queue/me served in front of Flask: the poll every waiting runner repeats every few
seconds is the rush's most frequent request, and Flask's per-request machinery (request context, routing, hooks,
the limiter) cost more than the poll's own work. Same answers, same errors; anything unusual goes to Flask."""
import json
import logging
import re
import time

import redis
from werkzeug.http import HTTP_STATUS_CODES

from marathon.blueprints.lines.services import my_place
from marathon.core import metrics
from marathon.core.errors import DomainError, error_body, unavailable_body, UNAVAILABLE_RETRY_AFTER_S
from marathon.core.security import claims_from_header
from marathon.web.metrics import START_KEY

log = logging.getLogger(__name__)
PATH = re.compile(r"^/api/v1/races/([^/]+)/queue/me$")
ROUTE = "/api/v1/races/<race>/queue/me"
UNAVAILABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


class FastStatus:
    """WSGI middleware: answers the status poll itself, inside an app context, when per-address limits are off
    (with them on, the poll goes through Flask and flask-limiter)."""

    def __init__(self, wsgi_app, app):
        self.wsgi_app, self.app = wsgi_app, app

    def __call__(self, environ, start_response):
        match = PATH.match(environ.get("PATH_INFO", "")) if environ.get("REQUEST_METHOD") == "GET" else None
        if match is None or self.app.config["RATE_LIMIT_BY_IP"]:
            return self.wsgi_app(environ, start_response)
        started = environ.get(START_KEY) or time.perf_counter()
        with self.app.app_context():
            answer = _answer(match.group(1), environ.get("HTTP_AUTHORIZATION", ""))
        if answer is None:  # something only Flask's error handlers know how to answer
            return self.wsgi_app(environ, start_response)
        status, body, headers = answer
        payload = json.dumps(body, separators=(",", ":")).encode()
        metrics.record_request(ROUTE, "GET", status, started)
        start_response(f"{status} {HTTP_STATUS_CODES[status]}",
                       [("Content-Type", "application/json"), ("Content-Length", str(len(payload))), *headers])
        return [payload]


def _answer(race, header):
    """(status, body, headers), or None to let Flask answer."""
    try:
        return 200, my_place(race, claims_from_header(header)), []
    except DomainError as error:
        body = error_body(error.status, error.message, error.reason, error.errors)
        return error.status, body, [(key, str(value)) for key, value in error.headers.items()]
    except UNAVAILABLE:
        log.warning("dependency unavailable on the status poll")
        return 503, unavailable_body(), [("Retry-After", str(UNAVAILABLE_RETRY_AFTER_S))]
    except Exception:  # e.g. the database away while the race's catalogue entry is loaded: Flask's handlers decide
        log.debug("status poll handed to Flask", exc_info=True)
        return None
