"""The lobby shuffle reproduced from the revealed seed, and joins and admissions racing for the last places."""
import threading

from sqlalchemy import func, select

from marathon.admission import jobs
from marathon.admission import batches as admission
from marathon.admission.shuffle import shuffle_order
from marathon.blueprints.races.models import PaceGroup, Race
from marathon.blueprints.registrations.models import Hold
from marathon.extensions import db
from tests.factories import bucket, make_race, run_rounds
from tests.support.api import join, me


def test_lobby_order_is_the_documented_function_of_the_seed(app, client, users, clock):
    with app.app_context():
        make_race(clock, opens_in_s=600, lobby_minutes=30, buckets=(("10K", "5", 1),))
    lobby_runners = [users.headers() for _ in range(6)]
    arrivals = {}
    for headers in lobby_runners:
        body = join(client, headers).get_json()
        assert body["lobby"] is True
        arrivals[body["arrival"]] = headers
    clock.advance(590)
    for headers in lobby_runners:  # waiting in the lobby, they keep asking
        waiting = me(client, headers).get_json()
        assert waiting["status"] == "waiting" and waiting["lobby"] is True
    clock.advance(10)  # the sale opens
    late = users.headers()
    late_join = join(client, late).get_json()
    assert late_join["lobby"] is False and late_join["arrival"] == 7
    with app.app_context():
        run_rounds(2)
        seed = db.session.execute(select(Race.shuffle_seed)).scalar_one()
    expected = shuffle_order(seed, "10K/5", list(arrivals))
    # the late runner, whom only an expiring hold can reach, was asked to come back in 30 s; the head's hold waits
    # for them to be told until 30 s after they were due
    clock.advance(25)
    head = me(client, arrivals[expected[0]]).get_json()
    assert head["status"] == "admitted"
    for position, arrival in enumerate(expected[1:], start=1):
        status = me(client, arrivals[arrival]).get_json()
        assert status["status"] == "waiting" and status["position"] == position, (arrival, status)
    assert me(client, late).get_json()["position"] == len(expected)


def test_many_joins_race_for_the_last_places(app, users, clock):
    capacity = 5
    with app.app_context():
        race = make_race(clock, opens_in_s=-1, buckets=(("10K", "5", capacity),))
        race_id, bucket_id = race.id, bucket(race).id
    headers = [users.headers() for _ in range(40)]
    answers = []

    def runner(batch):
        client = app.test_client()
        for h in batch:
            answers.append(join(client, h).status_code)

    threads = [threading.Thread(target=runner, args=(headers[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers.count(202) == 40

    def worker():
        with app.app_context():
            for _ in range(5):
                jobs.admit(race_id, bucket_id)
                admission.expire_holds(race_id)

    workers = [threading.Thread(target=worker) for _ in range(4)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    with app.app_context():
        run_rounds(1)
        holds = db.session.execute(select(Hold.user_id, Hold.arrival).filter_by(bucket_id=bucket_id)).all()
        assert len(holds) == capacity
        assert len({user for user, _ in holds}) == capacity
        # first come, first served: the five earliest arrivals
        assert sorted(arrival for _, arrival in holds) == [1, 2, 3, 4, 5]
        assert db.session.get(PaceGroup, bucket_id).held == capacity
        assert db.session.execute(select(func.count()).select_from(Hold)).scalar() == capacity
