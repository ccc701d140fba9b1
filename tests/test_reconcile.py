"""Redis can always be rebuilt from the database: the journal of joins, holds and registrations."""
import redis
from sqlalchemy import select

from marathon.admission import journal
from marathon.blueprints.lines.models import LineEntry
from marathon.blueprints.races.models import Race
from marathon.blueprints.registrations import services
from marathon.blueprints.registrations.models import Hold
from marathon.extensions import db
from tests.factories import make_race, run_rounds
from tests.support.api import join, me


def test_reconcile_after_redis_is_flushed_restores_lines_holds_and_registrations(app, client, users, clock,
                                                                                   redis_server):
    with app.app_context():
        race_id = make_race(clock, opens_in_s=-1, buckets=(("10K", "5", 2), ("HALF", "3", 5))).id
    runners = [users.headers() for _ in range(5)]
    for headers in runners:
        assert join(client, headers).status_code == 202
    assert join(client, users.headers(), course="HALF", pace_group="3").status_code == 202
    with app.app_context():
        run_rounds(2)
    clock.advance(30)  # runners whom only an expiring hold can reach come back after 30 s
    before = [me(client, headers).get_json() for headers in runners]
    assert [s["status"] for s in before] == ["admitted", "admitted", "waiting", "waiting", "waiting"]
    with app.app_context():
        first = db.session.get(Hold, before[0]["hold"]["id"])
        services.confirm_hold(first.id, first.user_id)
        run_rounds(1)  # journals the joins
        assert db.session.execute(select(LineEntry)).scalars().all()

    redis.Redis.from_url(redis_server.url).flushall()
    with app.app_context():
        differences = journal.reconcile(db.session.get(Race, race_id))
    assert any("missing from line" in line for line in differences)
    clock.advance(10)
    after = [me(client, headers).get_json() for headers in runners]
    assert [s["status"] for s in after] == ["confirmed", "admitted", "waiting", "waiting", "waiting"]
    assert [s["position"] for s in after[2:]] == [1, 2, 3]
    assert after[1]["hold"]["id"] == before[1]["hold"]["id"]
    # arrival numbers continue after the highest one the database knows
    late = join(client, users.headers())
    assert late.status_code == 202 and late.get_json()["arrival"] == 6

    with app.app_context():
        assert journal.reconcile(db.session.get(Race, race_id)) == []


def test_a_worker_round_heals_a_redis_that_lost_the_race(app, client, users, clock, redis_server):
    with app.app_context():
        make_race(clock, opens_in_s=-1, buckets=(("10K", "5", 1),))
    headers = [users.headers() for _ in range(2)]
    for h in headers:
        join(client, h)
    with app.app_context():
        run_rounds(2)
    redis.Redis.from_url(redis_server.url).flushall()
    unavailable = join(client, users.headers())
    assert unavailable.status_code == 503 and unavailable.headers["Retry-After"]
    clock.advance(10)
    meanwhile = me(client, headers[1])
    assert meanwhile.status_code == 503 and meanwhile.get_json()["reason"] == "line_unavailable"
    with app.app_context():
        from marathon.admission import jobs

        jobs.race_round(1)
    clock.advance(10)
    assert me(client, headers[0]).get_json()["status"] == "admitted"
    assert me(client, headers[1]).get_json()["position"] == 1


def test_a_round_on_a_restarted_redis_rebuilds_the_race_and_tells_nobody_meanwhile(app, client, users, clock):
    """A redis-server restarted from its AOF keeps the race but may miss its last second: the round sees a new run_id
    and rebuilds. While the sale hash is away a held runner asking for status is not told (no hold_s to tell)."""
    from marathon.blueprints.lines.keys import RaceKeys
    from marathon.extensions import redis_store

    with app.app_context():
        race_id = make_race(clock, opens_in_s=-1, buckets=(("10K", "5", 1),)).id
    holder, waiter = users.headers(), users.headers()
    for headers in (holder, waiter):
        assert join(client, headers).status_code == 202
    with app.app_context():
        run_rounds(2)
        keys = RaceKeys(race_id)
        client_ = redis_store.client
        assert client_.get(keys.redis_run).decode() == client_.info("server")["run_id"]
        # the sale hash away (a rebuild under way): status answers, but tells no hold
        sale = client_.hgetall(keys.sale)
        client_.delete(keys.sale)
    clock.advance(10)
    untold = me(client, holder).get_json()
    assert untold["status"] == "admitted"
    with app.app_context():
        assert client_.xlen(keys.told) == 0
        client_.hset(keys.sale, mapping=sale)
        # as after a restart: the run_id recorded is another server's, and a waiting runner's place was lost
        client_.set(keys.redis_run, "an-earlier-redis-server")
        waiting_user = next(int(u) for u, v in client_.hgetall(keys.who).items() if v.startswith(b"L|"))
        client_.hdel(keys.who, waiting_user)
        client_.zrem(keys.line(db.session.get(Hold, untold["hold"]["id"]).bucket_id), waiting_user)
        run_rounds(1)
        assert client_.hget(keys.who, waiting_user).startswith(b"L|")
        assert client_.get(keys.redis_run).decode() == client_.info("server")["run_id"]
    clock.advance(60)
    assert me(client, waiter).get_json()["status"] == "waiting"
