"""The metrics middleware: every request counted and timed, and GET /metrics (marathon.core.metrics holds the
metrics themselves)."""
import hmac
import os
import time

from flask import Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

from marathon.core import metrics
from marathon.core.errors import error_response

# where a request's arrival time (perf_counter) is kept in the WSGI environ: stamped by the first layer that sees it
START_KEY = "marathon.metrics.start"


def multiprocess_dir():
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir")


def _started():
    # marathon.web.inflight stamps the arrival before a request waits its turn: the latency includes that wait
    request.environ.setdefault(START_KEY, time.perf_counter())


def _answered(response):
    rule = request.url_rule
    metrics.record_request(rule.rule if rule is not None else "unmatched", request.method, response.status_code,
                           request.environ.get(START_KEY))
    return response


def _refusal():
    """Why this request may not read the metrics (an error response), or None: with METRICS_TOKEN set the scraper
    sends it as a bearer token; production without one serves no metrics at all."""
    token = current_app.config.get("METRICS_TOKEN")
    if not token:
        if current_app.config["ENV_NAME"] == "production":
            return error_response(404, "The requested URL was not found on the server.")
        return None
    given = request.headers.get("Authorization", "")
    expected = f"Bearer {token}"
    if not given.isascii() or not hmac.compare_digest(given.encode(), expected.encode()):
        response = error_response(401, "the metrics need METRICS_TOKEN as a bearer token", "token_missing")
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    return None


def metrics_view():
    """The Prometheus text exposition of every process's samples (behind METRICS_TOKEN)."""
    refusal = _refusal()
    if refusal is not None:
        return refusal
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def init_app(app):
    """Count and time every request, and serve GET /metrics."""
    app.before_request(_started)
    app.after_request(_answered)
    app.add_url_rule("/metrics", "metrics", metrics_view, methods=["GET"])
