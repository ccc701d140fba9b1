"""gunicorn settings of the `web` process: gevent workers sized for a rush of 15,000 open connections."""
import os
import resource

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
# gevent's own pywsgi server parses HTTP ~75 us a request cheaper than gunicorn's gevent worker (shared FACTS.md)
worker_class = "gevent_pywsgi"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# every runner keeps one connection open while it waits, as a browser does
worker_connections = int(os.environ.get("WORKER_CONNECTIONS", "16000"))
# the click at the opening arrives all at once: the listen backlog absorbs it
backlog = int(os.environ.get("WEB_BACKLOG", "16384"))
# outlast the longest polling interval (retry_after_s is at most 10 s)
keepalive = int(os.environ.get("WEB_KEEPALIVE", "75"))
# a gevent worker's heartbeat is a greenlet: give it room behind the opening's burst before the arbiter kills it
timeout = int(os.environ.get("WEB_TIMEOUT", "120"))
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
