"""The rush's rules: admission paced by payments, the hold clock started when the runner is told, ETA-based polling,
idleness judged from when a runner was due, and the order opened with the hold."""
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from marathon.blueprints.payment.models import Order
from marathon.admission import pacing
from marathon.blueprints.lines.keys import RaceKeys
from marathon.blueprints.races.models import PaceGroup
from marathon.blueprints.registrations.models import Hold
from marathon.extensions import db, redis_store
from tests.factories import bucket, make_race, run_rounds
from tests.support.api import join, me


def test_window_grows_while_payments_are_quick_and_shrinks_while_they_are_slow():
    fast, slow = pacing.thresholds(20)
    assert (fast, slow) == (3000, 7000)
    assert pacing.adjust(100, [1000] * 10, 20, 40, 10000) == 125
    assert pacing.adjust(100, [1000] * 5 + [5000] * 5, 20, 40, 10000) == 100  # p90 between the two: no change
    assert pacing.adjust(100, [12000] * 10, 20, 40, 10000) == 70
    assert pacing.adjust(50, [25000] * 10, 20, 40, 10000) == 40  # never below the floor
    assert pacing.adjust(9000, [100] * 10, 20, 40, 10000) == 10000  # nor above the ceiling
    assert pacing.adjust(100, [], 20, 40, 10000) == 100  # nothing measured: unchanged
    # quick payments, but most of the window unused: no reason to open it further
    assert pacing.adjust(100, [1000] * 10, 20, 40, 10000, in_use=30) == 100
    assert pacing.adjust(100, [1000] * 10, 20, 40, 10000, in_use=80) == 125


def test_window_is_shared_by_demand_within_each_buckets_cap():
    demands = {1: pacing.demand(1000, 0, 0, 3000), 2: pacing.demand(100, 10, 80, 50), 3: pacing.demand(50, 0, 0, 0)}
    assert demands == {1: 1000, 2: 20, 3: 0}
    shares = pacing.split(510, demands, {1: 1000, 2: 100, 3: 50})
    assert shares == {1: 500, 2: 10, 3: pacing.MIN_PER_BUCKET}


def test_the_workers_pace_admission_by_how_fast_runners_pay(app, client, users, clock):
    with app.app_context():
        race = make_race(clock, opens_in_s=-1, buckets=(("10K", "5", 200),), hold_seconds=20)
        bucket_id, keys = bucket(race).id, RaceKeys(race.id)
    for _ in range(60):
        assert join(client, users.headers()).status_code == 202
    with app.app_context():
        run_rounds(2)
        assert db.session.get(PaceGroup, bucket_id).held == pacing.START_PER_BUCKET
        # every admitted runner paid within a second of being told: the window grows by half
        redis_store.client.lpush(keys.pay_latency, *([800] * 5))
        redis_store.client.delete(keys.lock("pace"))
        clock.advance(1)
        run_rounds(2)
        assert float(redis_store.client.hget(keys.pace, "window")) == pytest.approx(pacing.START_PER_BUCKET * pacing.GROW, abs=0.1)  # in use: 25 of 25
        assert db.session.get(PaceGroup, bucket_id, populate_existing=True).held == 32  # its share, rounded up
        # payments that came after their holds ran out: it shrinks
        redis_store.client.lpush(keys.pay_latency, *([25000] * 20))
        redis_store.client.delete(keys.lock("pace"))
        clock.advance(1)
        run_rounds(1)
        assert float(redis_store.client.hget(keys.pace, "window")) == pytest.approx(31.25 * pacing.SHRINK, abs=0.1)


def test_a_late_payment_counts_against_the_window(app, client, users, clock):
    with app.app_context():
        race = make_race(clock, opens_in_s=-1, buckets=(("10K", "5", 5),), hold_seconds=20)
        keys = RaceKeys(race.id)
    headers = users.headers()
    join(client, headers)
    with app.app_context():
        run_rounds(1)
    clock.advance(2)
    hold = me(client, headers).get_json()["hold"]
    clock.advance(21)
    with app.app_context():
        run_rounds(1)
    late = client.post("/api/v1/payments", json={"hold_id": hold["id"]}, headers=headers)
    assert late.status_code == 410
    with app.app_context():
        samples = [int(value) for value in redis_store.client.lrange(keys.pay_latency, 0, -1)]
    assert samples and min(samples) > pacing.thresholds(20)[1]


def test_the_hold_clock_starts_when_the_runner_is_told(app, client, users, clock):
    with app.app_context():
        make_race(clock, opens_in_s=-1, buckets=(("10K", "5", 2),), hold_seconds=60)
    headers = users.headers()
    join(client, headers)
    admitted_at = clock.now()
    with app.app_context():
        run_rounds(1)
        hold = db.session.execute(select(Hold)).scalar_one()
        # untold: it waits for the runner until they were due back (1 s at the head) plus the idle grace
        assert hold.expires_at > admitted_at + timedelta(seconds=60 + 30)
    clock.advance(7)
    told_at = clock.now()
    answer = me(client, headers).get_json()
    assert answer["status"] == "admitted"
    assert answer["hold"]["expires_at"] == (told_at + timedelta(seconds=60)).isoformat(timespec="milliseconds") \
        or answer["hold"]["expires_at"].startswith((told_at + timedelta(seconds=60)).strftime("%Y-%m-%dT%H:%M:%S"))
    with app.app_context():
        run_rounds(1)  # the workers bring the database's expiry down to what the runner was told
        hold = db.session.execute(select(Hold).execution_options(populate_existing=True)).scalar_one()
        assert abs((hold.expires_at - (told_at + timedelta(seconds=60))).total_seconds()) < 0.01
    # asking again does not move the clock
    clock.advance(10)
    assert me(client, headers).get_json()["hold"]["expires_at"] == answer["hold"]["expires_at"]


def test_a_hold_nobody_is_told_of_still_comes_back(app, client, users, clock):
    with app.app_context():
        race = make_race(clock, opens_in_s=-1, buckets=(("10K", "5", 1),), hold_seconds=20)
        bucket_id = bucket(race).id
    gone, next_runner = users.headers(), users.headers()
    join(client, gone)
    join(client, next_runner)
    with app.app_context():
        run_rounds(1)
    clock.advance(30)
    assert me(client, next_runner).get_json()["status"] == "waiting"
    clock.advance(30)
    assert me(client, next_runner).get_json()["status"] == "waiting"
    with app.app_context():
        run_rounds(2)
        assert db.session.execute(select(Hold.status).order_by(Hold.id)).scalars().all() == ["expired", "active"]
        assert db.session.get(PaceGroup, bucket_id, populate_existing=True).held == 1
    clock.advance(30)
    assert me(client, next_runner).get_json()["status"] == "admitted"


def test_polling_follows_the_eta(app, client, users, clock):
    with app.app_context():
        make_race(clock, opens_in_s=-1, buckets=(("10K", "5", 3),))
    answers = [join(client, users.headers()).get_json() for _ in range(5)]
    retries = [answer["retry_after_s"] for answer in answers]
    assert retries[:3] == [1, 1, 1]  # a place within the window is theirs: ask again in a second
    assert retries[3:] == [30, 30]  # only a place given back can reach them: ask rarely


def test_a_runner_asked_to_wait_long_is_not_skipped_as_idle(app, client, users, clock):
    with app.app_context():
        make_race(clock, opens_in_s=-1, buckets=(("10K", "5", 1),), hold_seconds=20)
    first, patient = users.headers(), users.headers()
    join(client, first)
    assert join(client, patient).get_json()["retry_after_s"] == 30
    with app.app_context():
        run_rounds(1)
    clock.advance(5)
    assert me(client, first).get_json()["status"] == "admitted"
    # the first runner walks away; the patient one was told to come back in 30 s and has not asked since: 45 s is
    # longer than the idle grace (30 s) since their last poll, but not since they were due
    clock.advance(40)
    with app.app_context():
        run_rounds(2)
    assert me(client, patient).get_json()["status"] == "admitted"


def test_the_order_is_opened_with_the_hold(app, client, users, clock):
    with app.app_context():
        make_race(clock, opens_in_s=-1, buckets=(("10K", "5", 2),))
    headers = users.headers()
    join(client, headers)
    with app.app_context():
        run_rounds(1)
        opened = db.session.execute(select(Order)).scalar_one()
        assert opened.status == "pending" and opened.amount == 50000
    clock.advance(2)
    hold = me(client, headers).get_json()["hold"]
    created = client.post("/api/v1/payments", json={"hold_id": hold["id"]}, headers=headers)
    assert created.status_code == 201
    assert created.get_json()["order_id"] == opened.order_id


def test_a_confirm_takes_at_most_five_statements(app, client, users, clock):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("the one-statement registration is PostgreSQL's; SQLite takes the general path")
        make_race(clock, opens_in_s=-1, buckets=(("10K", "5", 2),))
    headers = users.headers()
    join(client, headers)
    with app.app_context():
        run_rounds(1)
    clock.advance(2)
    hold = me(client, headers).get_json()["hold"]
    order = client.post("/api/v1/payments", json={"hold_id": hold["id"]}, headers=headers).get_json()
    statements = []
    with app.app_context():
        engine = db.engine

        def count(_conn, _cursor, statement, *_args):
            statements.append(statement)

        event.listen(engine, "before_cursor_execute", count)
        try:
            paid = client.post(f"/api/v1/payments/{order['order_id']}/confirm",
                               json={"payment_key": "fake_key", "amount": order["amount"]}, headers=headers)
        finally:
            event.remove(engine, "before_cursor_execute", count)
    assert paid.status_code == 200, paid.get_json()
    assert paid.get_json()["registration"]["bib"] == 1
    assert len(statements) <= 5, statements
    again = client.post(f"/api/v1/payments/{order['order_id']}/confirm",
                        json={"payment_key": "fake_key", "amount": order["amount"]}, headers=headers)
    assert again.get_json() == paid.get_json()
