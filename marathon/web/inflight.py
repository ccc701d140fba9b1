"""A bound on the requests a gevent worker serves at once, however many connections it holds."""
import time

from marathon.core.clock import ARRIVED_KEY
from marathon.web.metrics import START_KEY


class InFlightLimit:
    """WSGI middleware: at most `limit` requests of a lane run the app at the same time in this process; the others
    wait their turn, in arrival order, on the lane's semaphore (waiting costs no CPU). A worker holding 7,500
    keep-alive connections at the opening otherwise starts 7,500 requests at once: each then waits seconds for the CPU
    between its steps, Redis replies outlive their timeouts, and gunicorn's heartbeat greenlet starves until the
    arbiter kills the worker.
    Only under gevent: elsewhere a process serves one request at a time anyway."""

    def __init__(self, wsgi_app, limit, lane_of=None):
        self.wsgi_app = wsgi_app
        self.limit = limit
        self.lane_of = lane_of or in_flight_lane
        self.gates = {}

    def __call__(self, environ, start_response):
        environ[START_KEY] = time.perf_counter()
        environ[ARRIVED_KEY] = int(time.time() * 1000)
        lane = self.lane_of(environ)
        gate = self.gates.get(lane)
        if gate is None:
            from gevent.lock import BoundedSemaphore

            gate = self.gates[lane] = BoundedSemaphore(self.limit)
        with gate:
            return self.wsgi_app(environ, start_response)


def in_flight_lane(environ):
    """The request's lane: joins wait apart, so that the opening's burst of joins delays neither the status polls nor
    the payments of runners already admitted (their holds run out meanwhile); other reads apart from other writes."""
    method = environ.get("REQUEST_METHOD")
    if method == "POST" and environ.get("PATH_INFO", "").endswith("/queue"):
        return "join"
    return "read" if method in ("GET", "HEAD") else "write"


def limit_in_flight(app, lane_of=in_flight_lane):
    """Wrap the app's WSGI callable when it runs under gevent (WEB_MAX_IN_FLIGHT requests at once per lane, 0 = no
    bound); `lane_of(environ)` names a request's lane."""
    limit = int(app.config["WEB_MAX_IN_FLIGHT"])
    try:
        from gevent import monkey
    except ImportError:
        return
    if limit > 0 and monkey.is_module_patched("socket"):
        app.wsgi_app = InFlightLimit(app.wsgi_app, limit, lane_of)
