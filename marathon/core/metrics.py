"""Prometheus metrics: requests by route and status, request latency, and the waiting lines' figures per bucket.
(The request hooks and GET /metrics are marathon.web.metrics.)

Under gunicorn and the RQ workers every process writes its samples to PROMETHEUS_MULTIPROC_DIR (prometheus-client's
multiprocess mode: set it, to an empty folder, before the processes start; gunicorn.conf.py marks dead workers), and
GET /metrics of any web process adds them all up. Without it, each process serves its own registry.
Recording is cheap by design: no Redis or database call happens to record a sample.
"""
import time

from prometheus_client import Counter, Gauge, Histogram

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


def record_request(route, method, status, started=None):
    """Count one answer, and time it from `started` (perf_counter) when known."""
    REQUESTS.labels(route, method, str(status)).inc()
    if started is not None:
        LATENCY.labels(route, method).observe(time.perf_counter() - started)
