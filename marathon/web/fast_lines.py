"""The join and the status poll served in front of Flask: they are the rush's two most frequent requests, and Flask's
per-request machinery (request context, routing, hooks, argument parsing) costs more than their own work. Same
answers, same errors, same per-address limits (counted inside the line's own Redis round trip); a body or a case
out of the ordinary is handed to Flask, which answers it as before."""
import io
import json
import logging
import re
import time

import redis
from werkzeug.http import HTTP_STATUS_CODES

from marathon.blueprints.lines import services as lines
from marathon.blueprints.lines.schemas import JoinSchema
from marathon.core import metrics
from marathon.core.clock import request_arrival_ms
from marathon.core.errors import DomainError, UNAVAILABLE_RETRY_AFTER_S, error_body, unavailable_body
from marathon.core.net import client_ip_of
from marathon.core.security import claims_from_header
from marathon.web.metrics import START_KEY

log = logging.getLogger(__name__)
JOIN_PATH = re.compile(r"^/api/v1/races/([^/]+)/queue$")
STATUS_PATH = re.compile(r"^/api/v1/races/([^/]+)/queue/me$")
JOIN_ROUTE, STATUS_ROUTE = "/api/v1/races/<race>/queue", "/api/v1/races/<race>/queue/me"
# a join body is a few dozen bytes (a proof of work a few hundred): anything longer goes to Flask
JOIN_BODY_MAX = 8192
UNAVAILABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


class FastLines:
    """WSGI middleware: answers well-formed joins and every status poll itself, inside an app context."""

    def __init__(self, wsgi_app, app):
        self.wsgi_app, self.app = wsgi_app, app

    def __call__(self, environ, start_response):
        method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO", "")
        if method == "GET":
            match = STATUS_PATH.match(path)
            if match:
                return self._serve(environ, start_response, STATUS_ROUTE, "GET", self._status, match.group(1))
        elif method == "POST":
            match = JOIN_PATH.match(path)
            if match:
                body = _lean_join_body(environ)
                if body is not None:
                    return self._serve(environ, start_response, JOIN_ROUTE, "POST", self._join, match.group(1), body)
        return self.wsgi_app(environ, start_response)

    def _serve(self, environ, start_response, route, method, answer_of, *args):
        started = environ.get(START_KEY) or time.perf_counter()
        with self.app.app_context():
            answer = _answer(answer_of, environ, *args)
        if answer is None:  # something only Flask's error handlers know how to answer
            return self.wsgi_app(environ, start_response)
        status, body, headers = answer
        payload = json.dumps(body, separators=(",", ":")).encode()
        metrics.record_request(route, method, status, started)
        start_response(f"{status} {HTTP_STATUS_CODES[status]}",
                       [("Content-Type", "application/json"), ("Content-Length", str(len(payload))), *headers])
        return [payload]

    @staticmethod
    def _status(environ, race):
        claims = claims_from_header(environ.get("HTTP_AUTHORIZATION", ""))
        return 200, lines.my_place(race, claims, ip=client_ip_of(environ), arrived_ms=request_arrival_ms(environ))

    @staticmethod
    def _join(environ, race, body):
        claims = claims_from_header(environ.get("HTTP_AUTHORIZATION", ""))
        joined = lines.join(race, body["course"], body["pace_group"], claims, ip=client_ip_of(environ),
                            pow_payload=body.get("pow"))
        return 202, joined


def _lean_join_body(environ):
    """The join's JSON body when it is one the join's schema loads unchanged, else None (Flask reads it instead:
    the body is put back for it)."""
    if not environ.get("CONTENT_TYPE", "").startswith("application/json"):
        return None
    try:
        length = int(environ.get("CONTENT_LENGTH") or -1)
    except ValueError:
        return None
    if not 0 < length <= JOIN_BODY_MAX:
        return None
    raw = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(raw)
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    return body if JoinSchema.lean_check(body) else None


def _answer(answer_of, environ, *args):
    """(status, body, headers), or None to let Flask answer."""
    try:
        status, body = answer_of(environ, *args)
        return status, body, []
    except DomainError as error:
        body = error_body(error.status, error.message, error.reason, error.errors)
        return error.status, body, [(key, str(value)) for key, value in error.headers.items()]
    except UNAVAILABLE:
        log.warning("Redis unavailable on the line's fast path")
        return 503, unavailable_body(), [("Retry-After", str(UNAVAILABLE_RETRY_AFTER_S))]
    except Exception:  # e.g. the database away while the race's catalogue entry is loaded: Flask's handlers decide
        log.debug("line request handed to Flask", exc_info=True)
        return None
