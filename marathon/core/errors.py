"""One error shape for every failure: flask-smorest's JSON, plus a machine-readable reason."""
import json
import logging

import marshmallow as ma
import redis
import sqlalchemy.exc
from flask import current_app, jsonify
from flask_limiter import RateLimitExceeded
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

log = logging.getLogger(__name__)

UNAVAILABLE_RETRY_AFTER_S = 2


class ErrorSchema(ma.Schema):
    """The error body, for the OpenAPI document: flask-smorest's shape plus the machine-readable reason."""

    code = ma.fields.Integer(metadata={"description": "HTTP status code"})
    status = ma.fields.String(metadata={"description": "HTTP status name"})
    message = ma.fields.String(metadata={"description": "what went wrong, for people"})
    reason = ma.fields.String(metadata={"description": "what went wrong, for programs (snake_case)"})
    errors = ma.fields.Dict(metadata={"description": "per location and field, what is wrong with the input"})


class DomainError(Exception):
    """A rule of the domain said no; views let it through and the handler answers with its status."""

    status = 409
    reason = None

    def __init__(self, message, reason=None, status=None, headers=None, errors=None, extra=None):
        super().__init__(message)
        self.extra = extra or {}
        self.message = message
        self.reason = reason or self.reason
        self.status = status or self.status
        self.headers = headers or {}
        self.errors = errors


class NotFound(DomainError):
    status = 404
    reason = "not_found"


def error_body(status, message=None, reason=None, errors=None):
    """The contract's error body: code, status, message, and reason and errors when there are any."""
    body = {"code": status, "status": HTTP_STATUS_CODES.get(status, "Error")}
    body["message"] = message or body["status"]
    if reason:
        body["reason"] = reason
    if errors:
        body["errors"] = errors
    return body


def unavailable_body():
    """The body of a 503 while Redis or the database is away (answered with Retry-After: UNAVAILABLE_RETRY_AFTER_S)."""
    return error_body(503, "the service is briefly unavailable; try again shortly", "unavailable")


def error_response(status, message=None, reason=None, errors=None, headers=None):
    """Build the contract's error body and response."""
    response = jsonify(error_body(status, message, reason, errors))
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = str(value)
    return response


def _http_exception(error):
    data = getattr(error, "data", None) or {}
    errors = data.get("errors") or data.get("messages")
    headers = dict(data.get("headers") or {})
    if error.code == 429 and "Retry-After" not in headers:
        headers["Retry-After"] = getattr(error, "retry_after", None) or 1
    if error.code == 503:
        headers.setdefault("Retry-After", UNAVAILABLE_RETRY_AFTER_S)
    message = data.get("message") or error.description
    if error.code == 422 and errors and not data.get("message"):
        message = _describe_validation(errors)
    if error.code == 400 and errors and not data.get("message"):
        message = _describe_validation(errors)
    response = error_response(error.code, message, data.get("reason"), errors, headers)
    for key, value in (error.get_headers() or []):
        if key.lower() not in ("content-type", "content-length"):
            response.headers.setdefault(key, value)
    return response


def _describe_validation(errors):
    fields = []
    for location, messages in errors.items():
        if isinstance(messages, dict):
            fields.extend(str(name) for name in messages)
        else:
            fields.append(str(location))
    return "invalid input: " + ", ".join(fields) if fields else "invalid input"


def _rate_limited(error):
    # flask-limiter's after-request hook adds X-RateLimit-* and sets Retry-After to the window's reset
    return error_response(429, f"too many requests: at most {error.description}; try again later", "rate_limited",
                          headers={"Retry-After": 1})


def _domain_error(error):
    response = error_response(error.status, error.message, error.reason, error.errors, error.headers)
    if error.extra:  # more fields a client needs beside the error, e.g. a draw's commitment with not_drawn
        response.set_data(json.dumps(dict(response.get_json(), **error.extra)))
    return response


def _unavailable(error):
    log.warning("dependency unavailable: %s", type(error).__name__)
    response = jsonify(unavailable_body())
    response.status_code = 503
    response.headers["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER_S)
    return response


def _database_error(error):
    if isinstance(error, sqlalchemy.exc.DataError):
        # the database refused a value as data (PostgreSQL: a NUL byte in text, a number out of range): it came
        # from the request, so it is the caller's error, not ours
        log.warning("value refused by the database: %s", type(getattr(error, "orig", error)).__name__)
        db_session_rollback()
        return error_response(400, "a value in the request cannot be stored", "invalid_value")
    if isinstance(error, (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError)) or getattr(
        error, "connection_invalidated", False
    ):
        return _unavailable(error)
    return _internal(error)


def db_session_rollback():
    """Leave the request's session usable after a failed statement (through the app, so core/errors imports no
    extension: marathon.extensions imports this module)."""
    current_app.extensions["sqlalchemy"].session.rollback()


def _unreadable_input(error):
    # JSON nested deeper than the parser recurses (webargs and Flask call json.loads, which raises RecursionError,
    # not a decoding error), or text no encoder takes (a lone surrogate such as "\ud800" in a JSON string): the
    # request's fault, answered without a traceback in the log
    log.warning("unreadable input: %s", type(error).__name__)
    db_session_rollback()
    if isinstance(error, RecursionError):
        return error_response(400, "the JSON body is nested too deeply", "invalid_json")
    return error_response(400, "a value in the request is not valid Unicode text", "invalid_value")


def _internal(error):
    log.exception("unhandled error", exc_info=error)
    return error_response(500, "internal error", "internal_error")


def register_error_handlers(app):
    """Give every error, ours or the framework's, the contract's JSON shape."""
    app.register_error_handler(RateLimitExceeded, _rate_limited)
    app.register_error_handler(HTTPException, _http_exception)
    app.register_error_handler(DomainError, _domain_error)
    app.register_error_handler(redis.exceptions.ConnectionError, _unavailable)
    app.register_error_handler(redis.exceptions.TimeoutError, _unavailable)
    app.register_error_handler(redis.exceptions.BusyLoadingError, _unavailable)
    app.register_error_handler(sqlalchemy.exc.TimeoutError, _unavailable)
    app.register_error_handler(sqlalchemy.exc.DBAPIError, _database_error)
    app.register_error_handler(RecursionError, _unreadable_input)
    app.register_error_handler(UnicodeError, _unreadable_input)
    app.register_error_handler(Exception, _internal)
