"""Pushed status through the real web and worker processes: a stream under gunicorn's gevent worker sees its admission."""
import http.client
import json
from datetime import date, timedelta

from flask_jwt_extended import create_access_token

from marathon.blueprints.auth.services import create_user
from marathon.core.clock import SystemClock
from marathon.tooling.redis_server import free_port
from tests.factories import make_race
from tests.processes import http as call, start, stop, wait_until


def next_event(response):
    """The next event's document off an open stream (heartbeats and retry lines are skipped)."""
    data = None
    while True:
        raw = response.readline()
        assert raw, "the stream ended"
        text = raw.decode().rstrip("\n")
        if text.startswith("data: "):
            data = json.loads(text[6:])
        elif text == "" and data is not None:
            return data


def test_a_stream_under_gunicorn_sees_its_admission(app, settings, tmp_path):
    app.extensions["clock"] = SystemClock()
    with app.app_context():
        race_id = make_race(SystemClock(), opens_in_s=-1, buckets=(("10K", "5", 1),)).id
        tokens = []
        for i in range(2):
            user = create_user(f"e{i}@example.com", "x" * 12, f"Event {i}", date(1992, 3, 4), f"010-4444-{i:04d}",
                               password_hash="unused")
            tokens.append(create_access_token(identity=str(user.id), additional_claims={"roles": ["runner"]},
                                              expires_delta=timedelta(hours=1)))
    port = free_port()
    base = f"http://127.0.0.1:{port}/api/v1/races/{race_id}/queue"
    processes = [start("web", settings, tmp_path / "web.log", PORT=port, WEB_CONCURRENCY=1),
                 start("worker", settings, tmp_path / "worker.log")]
    connection = None
    try:
        wait_until(lambda: call("GET", f"http://127.0.0.1:{port}/healthz")[0] == 200, what="web")
        first, second = ({"Authorization": f"Bearer {token}"} for token in tokens)
        assert call("POST", base, {"course": "10K", "pace_group": "5"}, first)[0] == 202
        wait_until(lambda: call("GET", base + "/me", headers=first)[1].get("status") == "admitted",
                   what="the first runner's admission")
        assert call("POST", base, {"course": "10K", "pace_group": "5"}, second)[0] == 202

        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", f"/api/v1/races/{race_id}/queue/me/events?access_token={tokens[1]}")
        response = connection.getresponse()
        assert response.status == 200 and response.getheader("Content-Type").startswith("text/event-stream")
        waiting = next_event(response)
        assert waiting["status"] == "waiting" and waiting["position"] == 1
        # the first runner gives the place back: the workers admit the second, whose stream is told
        assert call("DELETE", base + "/me", headers=first)[0] == 204
        admitted = next_event(response)
        assert admitted["status"] == "admitted" and admitted["hold"]["id"]
    finally:
        if connection is not None:
            connection.close()
        for process in processes:
            stop(process)
    for log in tmp_path.glob("*.log"):
        assert "Traceback" not in log.read_text(), log.read_text()
