"""Prometheus metrics: requests by route and status, request latency, and the waiting lines' figures per bucket.

Under gunicorn and the RQ workers every process writes its samples to PROMETHEUS_MULTIPROC_DIR (prometheus-client's
multiprocess mode: set it, to an empty folder, before the processes start; gunicorn.conf.py marks dead workers), and
GET /metrics of any web process adds them all up. Without it, each process serves its own registry.
Recording is cheap by design: no Redis or database call happens to record a sample.
"""
import hmac
import os
import time

from flask import Response, current_app, request
from prometheus_client import (CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram,
                               generate_latest, multiprocess)

from marathon.core.errors import error_response

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter("marathon_http_requests", "HTTP answers by route, method and status", ["route", "method", "status"])
LATENCY = Histogram("marathon_http_request_seconds", "Time from the request's arrival in Flask to its answer",
                    ["route", "method"], buckets=LATENCY_BUCKETS)

# per bucket: counters are added up over processes, gauges keep the latest value any process set
ADMISSIONS = Counter("marathon_admissions", "Runners admitted (a hold made) from a bucket's line", ["race", "bucket"])
CONFIRMATIONS = Counter("marathon_confirmations", "Holds confirmed as registrations", ["race", "bucket"])
EXPIRIES = Counter("marathon_hold_expiries", "Unpaid holds that expired", ["race", "bucket"])
WAITING = Gauge("marathon_line_waiting", "Runners in a bucket's line (and its pending batch)", ["race", "bucket"],
                multiprocess_mode="mostrecent")
HELD = Gauge("marathon_bucket_held", "Places held (admitted, unpaid) in a bucket", ["race", "bucket"],
             multiprocess_mode="mostrecent")
CONFIRMED = Gauge("marathon_bucket_confirmed", "Places confirmed in a bucket", ["race", "bucket"],
                  multiprocess_mode="mostrecent")
CAPACITY = Gauge("marathon_bucket_capacity", "Places of a bucket", ["race", "bucket"], multiprocess_mode="mostrecent")

START_KEY = "marathon.metrics.start"


def multiprocess_dir():
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir")


def admitted(race_id, bucket, count):
    if count:
        ADMISSIONS.labels(str(race_id), bucket).inc(count)


def confirmed(race_id, bucket):
    CONFIRMATIONS.labels(str(race_id), bucket).inc()


def expired(race_id, bucket, count):
    if count:
        EXPIRIES.labels(str(race_id), bucket).inc(count)


def bucket_figures(race_id, bucket, capacity, held, confirmed_places, waiting):
    """Set a bucket's gauges (the workers' pacemaker calls this with what it read anyway)."""
    labels = (str(race_id), bucket)
    CAPACITY.labels(*labels).set(capacity)
    HELD.labels(*labels).set(held)
    CONFIRMED.labels(*labels).set(confirmed_places)
    WAITING.labels(*labels).set(waiting)


def _started():
    # marathon.core.inflight stamps the arrival before a request waits its turn: the latency includes that wait
    request.environ.setdefault(START_KEY, time.perf_counter())


def _answered(response):
    started = request.environ.get(START_KEY)
    rule = request.url_rule
    route = rule.rule if rule is not None else "unmatched"
    REQUESTS.labels(route, request.method, str(response.status_code)).inc()
    if started is not None:
        LATENCY.labels(route, request.method).observe(time.perf_counter() - started)
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
