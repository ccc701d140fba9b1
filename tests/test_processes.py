"""The Procfile's processes start as real processes and stop cleanly."""
import signal

from rq import Worker

from marathon.tooling.redis_server import free_port
from tests.processes import http, start, stop, wait_until


def test_web_process_from_the_procfile_answers(settings, migrated, tmp_path):
    port = free_port()
    web = start("web", settings, tmp_path / "web.log", PORT=port, WEB_CONCURRENCY=1)
    try:
        wait_until(lambda: http("GET", f"http://127.0.0.1:{port}/healthz")[0] == 200, what="gunicorn to answer")
        assert http("GET", f"http://127.0.0.1:{port}/healthz") == (200, {"status": "ok"})
        assert http("GET", f"http://127.0.0.1:{port}/readyz")[0] == 200
        status, body = http("GET", f"http://127.0.0.1:{port}/nowhere")
        assert status == 404 and body["code"] == 404
        assert "gevent" in (tmp_path / "web.log").read_text().lower() or web.poll() is None
    finally:
        stop(web)
    log = (tmp_path / "web.log").read_text()
    assert "Booting worker" in log and "Traceback" not in log, log


def test_worker_process_starts_and_exits_on_sigterm(app, settings, tmp_path):
    from marathon.extensions import redis_store

    worker = start("worker", settings, tmp_path / "worker.log")
    try:
        with app.app_context():
            wait_until(lambda: len(Worker.all(connection=redis_store.client)) == 1 or worker.poll() is not None,
                       what="the RQ worker to register")
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=20) == 0, (tmp_path / "worker.log").read_text()
    finally:
        stop(worker)
