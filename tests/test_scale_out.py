"""Two web and two worker processes against one Redis and one database: the right runners, in the right order."""
from datetime import date, timedelta

from flask_jwt_extended import create_access_token
from sqlalchemy import select

from marathon.admission.shuffle import shuffle_order
from marathon.blueprints.auth.services import create_user
from marathon.blueprints.races.models import PaceGroup, Race
from marathon.blueprints.races.services import change_sale_state
from marathon.blueprints.registrations.models import Hold
from marathon.core.clock import SystemClock
from marathon.extensions import db
from marathon.tooling.redis_server import free_port
from tests.factories import bucket, make_race
from tests.processes import http, start, stop, wait_until

LOBBY, LATE, CAPACITY = 10, 20, 22


def test_two_webs_two_workers_admit_lobby_in_seed_order_then_fifo(app, settings, tmp_path):
    app.extensions["clock"] = SystemClock()
    with app.app_context():
        race = make_race(SystemClock(), opens_in_s=3600, lobby_minutes=90,
                         buckets=(("10K", "5", CAPACITY), ("HALF", "4", 100)))
        race_id, bucket_id, other_id = race.id, bucket(race).id, bucket(race, "HALF", "4").id
        tokens = []
        for i in range(LOBBY + LATE + 5):
            user = create_user(f"s{i}@example.com", "x" * 12, f"Scale {i}", date(1991, 2, 3), f"010-3333-{i:04d}",
                               password_hash="unused")
            tokens.append((user.id, create_access_token(identity=str(user.id), additional_claims={"roles": ["runner"]},
                                                         expires_delta=timedelta(hours=1))))
    ports = [free_port(), free_port()]
    processes = [start("web", settings, tmp_path / f"web{i}.log", PORT=port, WEB_CONCURRENCY=1)
                 for i, port in enumerate(ports)]
    processes += [start("worker", settings, tmp_path / f"worker{i}.log") for i in range(2)]
    try:
        for port in ports:
            wait_until(lambda: http("GET", f"http://127.0.0.1:{port}/healthz")[0] == 200, what="web")

        def join(index, course="10K", pace_group="5"):
            user_id, token = tokens[index]
            status, body = http("POST", f"http://127.0.0.1:{ports[index % 2]}/api/v1/races/{race_id}/queue",
                                {"course": course, "pace_group": pace_group},
                                {"Authorization": f"Bearer {token}"})
            assert status == 202, body
            return body

        lobby = {join(i)["arrival"]: tokens[i][0] for i in range(LOBBY)}
        assert len(lobby) == LOBBY
        for i in range(LOBBY + LATE, LOBBY + LATE + 5):
            assert join(i, "HALF", "4")["lobby"] is True
        with app.app_context():  # the organiser opens the sale
            change_sale_state(race_id, "open", "test")
        late = []
        for i in range(LOBBY, LOBBY + LATE):
            body = join(i)
            assert body["lobby"] is False
            late.append((body["arrival"], tokens[i][0]))

        with app.app_context():
            def admitted():
                db.session.rollback()
                return (db.session.get(PaceGroup, bucket_id, populate_existing=True).held == CAPACITY
                        and db.session.get(PaceGroup, other_id, populate_existing=True).held == 5)
            wait_until(admitted, timeout=30, what="the admissions")
            seed = db.session.execute(select(Race.shuffle_seed)).scalar_one()
            holds = db.session.execute(select(Hold.user_id).filter_by(bucket_id=bucket_id).order_by(Hold.id)).scalars()
            expected = [lobby[a] for a in shuffle_order(seed, "10K/5", list(lobby))]
            expected += [user for _, user in sorted(late)][: CAPACITY - LOBBY]
            assert list(holds) == expected
        still_waiting = [user for _, user in sorted(late)][CAPACITY - LOBBY:]
        token_of = dict(tokens)
        for position, user_id in enumerate(still_waiting, start=1):
            answer = {}

            def asked(user_id=user_id, answer=answer):
                status, body = http("GET", f"http://127.0.0.1:{ports[position % 2]}/api/v1/races/{race_id}/queue/me",
                                    headers={"Authorization": f"Bearer {token_of[user_id]}"})
                answer.update(body)
                return status == 200
            # runners whom only an expiring hold can reach were asked to come back in 30 s
            wait_until(asked, timeout=40, what="a status answer")
            assert answer["status"] == "waiting" and answer["position"] == position, answer
    finally:
        for process in processes:
            stop(process)
    for log in tmp_path.glob("*.log"):
        assert "Traceback" not in log.read_text(), log.read_text()
