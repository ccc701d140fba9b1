"""A bound on the requests a gevent worker serves at once, however many connections it holds."""
import os
import time

START_KEY = "marathon.metrics.start"  # the same key as marathon.core.metrics reads

DEFAULT_LIMIT = 64


class InFlightLimit:
    """WSGI middleware: at most `limit` requests of this process run the app at the same time; the others wait their
    turn, in arrival order, on a semaphore (waiting costs no CPU). A worker holding 7,500 keep-alive connections at the
    opening otherwise starts 7,500 requests at once: each then waits seconds for the CPU between its steps, Redis
    replies outlive their timeouts, and gunicorn's heartbeat greenlet starves until the arbiter kills the worker.
    Only under gevent: elsewhere a process serves one request at a time anyway."""

    def __init__(self, wsgi_app, limit):
        from gevent.lock import BoundedSemaphore

        self.wsgi_app = wsgi_app
        # two lanes: reads (GET, HEAD: a waiting runner's status) do not queue behind the opening's burst of writes
        # (POST: joins), nor writes behind reads; in each lane, requests go in arrival order
        self.reads, self.writes = BoundedSemaphore(limit), BoundedSemaphore(limit)

    def __call__(self, environ, start_response):
        environ[START_KEY] = time.perf_counter()
        gate = self.reads if environ.get("REQUEST_METHOD") in ("GET", "HEAD") else self.writes
        with gate:
            return self.wsgi_app(environ, start_response)


def limit_in_flight(app):
    """Wrap the app's WSGI callable when it runs under gevent (WEB_MAX_IN_FLIGHT requests at once, 0 = no bound)."""
    limit = int(os.environ.get("WEB_MAX_IN_FLIGHT", DEFAULT_LIMIT))
    try:
        from gevent import monkey
    except ImportError:
        return
    if limit > 0 and monkey.is_module_patched("socket"):
        app.wsgi_app = InFlightLimit(app.wsgi_app, limit)
