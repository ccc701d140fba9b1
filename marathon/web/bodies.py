"""Request bodies read whole, with a deadline, before a request takes an in-flight lane (issue 14, item 2).

A lane (marathon.web.inflight) is held while the app runs, and the app reads the body: a client that announces
60,000 bytes and sends 9 held a lane for as long as it liked, and 64 of them stopped every write of a worker. This
middleware sits in front of the lanes: it reads the body from the socket under a gevent Timeout (BODY_READ_TIMEOUT_S)
into memory (at most MAX_CONTENT_LENGTH, 64 KiB), and only then passes the request on, with the bytes as its
wsgi.input. A body that does not arrive in time is a JSON 408 (reason body_timeout), one announced or sent larger than
the limit a JSON 413 (body_too_large), both closing the connection. Waiting for a body costs a connection and a
greenlet, never a lane.
"""
import io
import json

from marathon.core.errors import error_body

CHUNK = 64 * 1024


class _BodyTimeout(Exception):
    """Raised inside the read when BODY_READ_TIMEOUT_S runs out (only gevent's Timeout can interrupt a socket read)."""


class ReadBodyFirst:
    """WSGI middleware: the request's body is in memory before the wrapped app (the lanes, then Flask) sees it."""

    def __init__(self, wsgi_app, config):
        self.wsgi_app = wsgi_app
        self.config = config  # the app's: MAX_CONTENT_LENGTH and BODY_READ_TIMEOUT_S are read at each request

    @property
    def max_length(self):
        return int(self.config.get("MAX_CONTENT_LENGTH") or 0)

    @property
    def timeout_s(self):
        return float(self.config["BODY_READ_TIMEOUT_S"])

    def __call__(self, environ, start_response):
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return self.wsgi_app(environ, start_response)  # werkzeug answers a malformed length itself
        if length <= 0 and not chunked:
            return self.wsgi_app(environ, start_response)
        if self.max_length and length > self.max_length:
            _abandon(environ)
            return _refuse(start_response, 413, f"the request body is larger than {self.max_length} bytes",
                           "body_too_large")
        try:
            body = self._read(environ["wsgi.input"], None if chunked else length)
        except _BodyTimeout:
            _abandon(environ)
            return _refuse(start_response, 408, f"the request body did not arrive within {self.timeout_s:g} s",
                           "body_timeout")
        if body is None:
            _abandon(environ)
            return _refuse(start_response, 413, f"the request body is larger than {self.max_length} bytes",
                           "body_too_large")
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        environ["wsgi.input_terminated"] = False
        return self.wsgi_app(environ, start_response)

    def _read(self, stream, length):
        """The body's bytes (fewer when the client stopped early), or None past max_length; raises _BodyTimeout."""
        limit = self.max_length or None
        parts, got = [], 0
        with _deadline(self.timeout_s):
            while length is None or got < length:
                want = CHUNK if length is None else min(CHUNK, length - got)
                chunk = stream.read(want)
                if not chunk:
                    break
                parts.append(chunk)
                got += len(chunk)
                if limit is not None and got > limit:
                    return None
        return b"".join(parts)


def _deadline(seconds):
    try:
        from gevent import Timeout
    except ImportError:  # pragma: no cover - gevent is a dependency; a sync server reads without a deadline
        import contextlib

        return contextlib.nullcontext()
    return Timeout(seconds, _BodyTimeout)


def _abandon(environ):
    """Tell gevent's pywsgi not to read out the rest of the body after our answer: it would wait on a stalled client
    as long as it likes (its Input skips that discard once it saw a broken chunked body; the connection then closes)."""
    stream = environ.get("wsgi.input")
    if hasattr(stream, "_chunked_input_error"):
        stream._chunked_input_error = True


def _refuse(start_response, status, message, reason):
    payload = json.dumps(error_body(status, message, reason)).encode()
    start_response(f"{status} {error_body(status)['status']}", [
        ("Content-Type", "application/json"), ("Content-Length", str(len(payload))), ("Connection", "close")])
    return [payload]


def read_bodies_first(app):
    """Put ReadBodyFirst in front of everything the app's WSGI callable has so far (call it last)."""
    app.wsgi_app = ReadBodyFirst(app.wsgi_app, app.config)
