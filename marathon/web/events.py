"""Pushed status: GET /api/v1/races/{race}/queue/me/events as Server-Sent Events, served in front of Flask.

One Redis pattern subscription per web process, read by one greenlet (the Hub), hears which runners' places changed
(marathon.blueprints.lines.changes.publish_changes) and wakes only those runners' streams. An open stream is a
greenlet waiting on its own waker (an Event): no CPU until it is woken, its refresh falls due or a heartbeat does; no in-flight
slot (EventStreams stands outside the in-flight gate) and no database connection (the race comes from the catalogue's
cache, the place from Redis, and the app context is left before the first byte is sent)."""
import json
import logging
import re
import time
from datetime import datetime
from urllib.parse import parse_qs

import redis

from marathon.blueprints.lines import engine as line
from marathon.blueprints.races import catalogue
from marathon.blueprints.lines.services import my_place
from marathon.core import metrics
from marathon.core.clock import now
from marathon.core.errors import UNAVAILABLE_RETRY_AFTER_S, DomainError, error_response
from marathon.core.security import claims_from_header
from marathon.web.hub import hub_of

log = logging.getLogger(__name__)
PATH = re.compile(r"^/api/v1/races/([^/]+)/queue/me/events$")
ROUTE = "/api/v1/races/<race>/queue/me/events"
STREAM_HEADERS = [("Content-Type", "text/event-stream; charset=utf-8"), ("Cache-Control", "no-cache"),
                  ("X-Accel-Buffering", "no")]
FINAL = frozenset({"confirmed", "expired", "sold_out", "left"})
HEARTBEAT_S = 15
HEARTBEAT = b": hb\n\n"
# how long EventSource waits before it reconnects after a dropped connection
RETRY_MS = 3000
# without gevent (flask run, tests) every open stream holds a thread: it ends after this long, and EventSource
# reconnects with Last-Event-ID
UNPATCHED_LIMIT_S = 60
UNAVAILABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


class EventStream:
    """The body of one open stream: its chunks; on close (the server's, at the end or when the runner went away),
    its waker leaves the hub."""

    __slots__ = ("chunks", "hub", "race_id", "user_id", "waker")

    def __init__(self, chunks, hub, race_id, user_id, waker):
        self.chunks, self.hub, self.race_id, self.user_id, self.waker = chunks, hub, race_id, user_id, waker

    def __iter__(self):
        return self.chunks

    def close(self):
        self.chunks.close()
        self.hub.close(self.race_id, self.user_id, self.waker)


def open_stream(app, race, token, last_event_id=None):
    """Check the caller and read their place, then give the stream of its changes (an iterable of bytes). Inside an
    app context. Raises DomainError as GET .../queue/me does (401 token problems, 404 race_not_found or not_in_line)."""
    claims = claims_from_header(f"Bearer {token}" if token else "")
    race_id = catalogue.lookup(race).race_id
    hub = hub_of(app)
    # listen first, then read the place: a change in between still wakes the stream
    waker = hub.open(race_id, claims["sub"])
    try:
        first = my_place(race, claims, enforce_interval=False, poll=False)
        due_s = refresh_after(first, now())
    except BaseException:
        hub.close(race_id, claims["sub"], waker)
        raise
    limit_s = None if hub.cooperative else app.config.get("EVENTS_UNPATCHED_LIMIT_S", UNPATCHED_LIMIT_S)
    chunks = _events(hub, race_id, claims, waker, first, due_s, event_id(last_event_id), limit_s)
    return EventStream(chunks, hub, race_id, claims["sub"], waker)


def _events(hub, race_id, claims, waker, first, due_s, last_id, limit_s):
    """The stream's chunks. Its locals are all an open stream keeps besides its waker: a few numbers and the gist of
    the document it sent last (compact bytes: thousands of streams wait at once)."""
    try:
        started = last_write = time.monotonic()
        last_id = next_id(last_id)
        yield f"retry: {RETRY_MS}\n".encode() + _event(last_id, first)
        sent, final, first = _gist(first), first["status"] in FINAL, None
        due = started + due_s
        while not final:
            moment = time.monotonic()
            wake_at = min(due, last_write + HEARTBEAT_S)
            if limit_s is not None:
                if moment >= started + limit_s:
                    return
                wake_at = min(wake_at, started + limit_s)
            woken = _wait(waker, wake_at - moment)
            if hub.stopped:
                return
            moment = time.monotonic()
            if woken or moment >= due:
                try:
                    fresh, after_s = _check(hub.app, race_id, claims)
                except redis.exceptions.RedisError:
                    log.warning("event stream: Redis unavailable; the place is looked at again shortly")
                    fresh, after_s = False, 3
                due = moment + after_s
                if fresh is None:  # no place any more, or the token was revoked: a reconnect is answered why
                    return
                gist = _gist(fresh) if fresh else sent
                if gist != sent:
                    last_id = next_id(last_id)
                    yield _event(last_id, fresh)
                    sent, final, last_write = gist, fresh["status"] in FINAL, moment
                    continue
            if moment - last_write >= HEARTBEAT_S:
                yield HEARTBEAT
                last_write = moment
    finally:
        hub.close(race_id, claims["sub"], waker)


def _check(app, race_id, claims):
    """The runner's place now and the seconds until the next unasked look; (None, 0) when there is none."""
    try:
        with app.app_context():
            fresh = line.status(race_id, claims["sub"], claims["jti"], enforce_interval=False, poll=False)
            return fresh, (refresh_after(fresh, now()) if fresh else 0)
    except DomainError:
        return None, 0


def _wait(waker, seconds):
    """Block without CPU until woken or `seconds` pass; True when woken. The waker is cleared before the place is
    read again, so a change published meanwhile is either in that read or wakes the stream once more."""
    if not waker.wait(max(seconds, 0.01)):
        return False
    waker.clear()
    return True


def refresh_after(place, moment):
    """Seconds until a stream looks at its runner's place unasked: waiting runners far back seldom (a fifth of
    their ETA, 3 to 30 s), an admitted runner when the hold runs out; changes of status are pushed at once anyway."""
    if place["status"] == "waiting":
        basis = place.get("eta_s")
        if basis is None:
            basis = place.get("ahead") or 0
        return max(3, min(30, basis / 5))
    if place["status"] == "admitted" and place.get("hold"):
        left_s = (datetime.fromisoformat(place["hold"]["expires_at"]) - moment).total_seconds()
        return max(1, min(30, left_s + 1))
    return 30


def _gist(place):
    """What a change is judged by: the document without retry_after_s (which moves with the line's pace alone)."""
    return json.dumps({key: value for key, value in place.items() if key != "retry_after_s"}, sort_keys=True,
                      separators=(",", ":")).encode()


def _event(number, place):
    return b"id: %d\ndata: %s\n\n" % (number, json.dumps(place, separators=(",", ":")).encode())


def event_id(header):
    """The Last-Event-ID a reconnecting client sent, as a number (0 when absent or not ours)."""
    try:
        return max(int(header or 0), 0)
    except ValueError:
        return 0


def next_id(previous):
    """Event ids are milliseconds of wall-clock time, strictly increasing within a stream and across its reconnects."""
    return max(previous + 1, int(time.time() * 1000))


def token_of(header, query_string):
    """The access token from `Authorization: Bearer`, or from `access_token=` in the query (EventSource cannot send
    headers)."""
    if header.startswith("Bearer "):
        return header[7:]
    if "access_token=" in query_string:
        return (parse_qs(query_string).get("access_token") or [""])[0]
    return ""


class EventStreams:
    """WSGI middleware, outermost: opens a runner's event stream without Flask's dispatch or the in-flight gate.
    Anything unusual (the database away while the race is looked up) goes to Flask, whose view streams the same way."""

    def __init__(self, wsgi_app, app):
        self.wsgi_app, self.app = wsgi_app, app

    def __call__(self, environ, start_response):
        match = PATH.match(environ.get("PATH_INFO", "")) if environ.get("REQUEST_METHOD") == "GET" else None
        if match is None or not self.app.config.get("EVENTS_IN_FRONT", True):
            return self.wsgi_app(environ, start_response)
        token = token_of(environ.get("HTTP_AUTHORIZATION", ""), environ.get("QUERY_STRING", ""))
        with self.app.app_context():
            try:
                body = open_stream(self.app, match.group(1), token, environ.get("HTTP_LAST_EVENT_ID"))
            except DomainError as error:
                return self._refuse(error_response(error.status, error.message, error.reason, error.errors,
                                                   error.headers), environ, start_response)
            except UNAVAILABLE:
                log.warning("dependency unavailable while opening an event stream")
                return self._refuse(error_response(
                    503, "the service is briefly unavailable; try again shortly", "unavailable",
                    headers={"Retry-After": UNAVAILABLE_RETRY_AFTER_S}), environ, start_response)
            except Exception:  # e.g. the database away while the catalogue loads the race: Flask's handlers decide
                log.debug("event stream handed to Flask", exc_info=True)
                body = None
        if body is None:
            return self.wsgi_app(environ, start_response)
        metrics.REQUESTS.labels(ROUTE, "GET", "200").inc()
        start_response("200 OK", list(STREAM_HEADERS))
        return body

    @staticmethod
    def _refuse(response, environ, start_response):
        metrics.REQUESTS.labels(ROUTE, "GET", str(response.status_code)).inc()
        return response(environ, start_response)
