"""The clock: real time in production, a settable one in tests, so nothing has to sleep."""
from datetime import datetime, timedelta, timezone

from flask import current_app, has_app_context, has_request_context, request

# the WSGI environ's key for the moment (ms since the epoch) a request reached the server, set by the web layer
ARRIVED_KEY = "marathon.arrived_ms"


class SystemClock:
    def now(self):
        return datetime.now(timezone.utc)


class FrozenClock:
    """A clock that only moves when told; for tests."""

    def __init__(self, start=None):
        self.current = start or datetime.now(timezone.utc)

    def now(self):
        return self.current

    def advance(self, seconds=0, **kwargs):
        self.current += timedelta(seconds=seconds, **kwargs)
        return self.current

    def set(self, moment):
        self.current = moment


_system = SystemClock()


def now():
    """The current time, aware and in UTC, from the app's clock."""
    if has_app_context():
        return current_app.extensions.get("clock", _system).now()
    return _system.now()


def utcnow():
    """A callable for column defaults (evaluated per row, never once at import)."""
    return now()


def to_ms(moment):
    return int(moment.timestamp() * 1000)


def request_arrival_ms(environ=None):
    """When the current request (or this environ's) reached the server, in ms since the epoch, if the web layer noted
    it; a request that waited inside the server counts from then."""
    if environ is None:
        if not has_request_context():
            return None
        environ = request.environ
    return environ.get(ARRIVED_KEY)
