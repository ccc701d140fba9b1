"""gunicorn settings of the `web` process: gevent workers sized for a rush of 15,000 open connections."""
import os
import resource

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
# gevent's own pywsgi server parses HTTP ~75 us a request cheaper than gunicorn's gevent worker (shared FACTS.md);
# the worker is gunicorn's gevent_pywsgi with deadlines on reading a request's line and headers (_deadline_worker)
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# every runner keeps one connection open while it waits, as a browser does
worker_connections = int(os.environ.get("WORKER_CONNECTIONS", "16000"))
# the click at the opening arrives all at once: the listen backlog absorbs it
backlog = int(os.environ.get("WEB_BACKLOG", "16384"))
# outlast the longest polling interval (retry_after_s is at most 30 s)
keepalive = int(os.environ.get("WEB_KEEPALIVE", "75"))
# a gevent worker's heartbeat is a greenlet: give it room behind the opening's burst before the arbiter kills it
timeout = int(os.environ.get("WEB_TIMEOUT", "120"))
# a request's headers (after its first line) must arrive within this many seconds, or the connection gets 400 and is
# closed; a request body's deadline is the app's BODY_READ_TIMEOUT_S (marathon/web/bodies.py)
header_timeout = float(os.environ.get("WEB_HEADER_TIMEOUT", "10"))
graceful_timeout = 15
accesslog = os.environ.get("WEB_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("WEB_LOG_LEVEL", "info")


def on_starting(server):
    """Raise the open-files limit to what the host allows, so 15,000 sockets fit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError):
            server.log.warning("could not raise the open-files limit above %s", soft)


def post_worker_init(worker):
    """Open event streams end as soon as the worker is asked to stop (their EventSource reconnects to a live one),
    instead of holding it for graceful_timeout."""
    from marathon.web.hub import end_streams_when

    end_streams_when(lambda: not worker.alive)


def child_exit(_server, worker):
    """In prometheus-client's multiprocess mode, a dead worker's live gauges must stop counting."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def _deadline_worker():
    """gunicorn's gevent_pywsgi worker, whose handler reads with deadlines. gevent's pywsgi has none of its own: a
    client could send a request line or its headers a byte a minute and keep a connection and a greenlet forever.
    Here the request line must come within `keepalive` seconds (a kept-alive connection idle that long is closed,
    which gunicorn's keepalive setting promises but its gevent_pywsgi worker does not do), and the headers within
    `header_timeout` seconds. Defined here, not in the marathon package: the master loads the worker class before
    the workers patch the standard library, and must not import the app's modules unpatched."""
    import gevent
    from gunicorn.workers.ggevent import GeventPyWSGIWorker, PyWSGIHandler

    class HeadersLate(Exception):
        pass

    class DeadlineHandler(PyWSGIHandler):
        idle_s = 75.0
        headers_s = 10.0

        def read_requestline(self):
            with gevent.Timeout(self.idle_s, False):
                return super().read_requestline()
            return ""  # nothing in time: the connection is closed

        def read_request(self, raw_requestline):
            try:
                with gevent.Timeout(self.headers_s, HeadersLate):
                    return super().read_request(raw_requestline)
            except HeadersLate:
                raise ValueError(f"headers not received within {self.headers_s:g} s") from None  # 400, closed

    class DeadlineWorker(GeventPyWSGIWorker):
        def init_process(self):
            self.wsgi_handler = type("DeadlineHandler", (DeadlineHandler,), {
                "idle_s": float(self.cfg.keepalive), "headers_s": header_timeout})
            super().init_process()

    return DeadlineWorker


worker_class = _deadline_worker()
