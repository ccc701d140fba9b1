"""One owner per bucket: a worker that lost its lease (paused, or slower than the lease) neither pops nor commits, so
first come, first served holds with several real worker processes."""
import signal
from datetime import date

from sqlalchemy import select

from marathon.admission import batches
from marathon.admission.lease import Lease, LeaseLost
from marathon.blueprints.lines import engine as line
from marathon.blueprints.lines.keys import RaceKeys
from marathon.blueprints.races.models import PaceGroup
from marathon.blueprints.registrations.models import Hold
from marathon.extensions import db, redis_store
from tests.factories import bucket, make_race
from tests.processes import start, stop, wait_until


def _runners(app, race_id, bucket_id, count, prefix):
    from marathon.blueprints.auth.services import create_user

    with app.app_context():
        users = [create_user(f"{prefix}{i}@example.com", "x" * 12, f"Lease {prefix} {i}", date(1990, 1, 1),
                             f"010-7{len(prefix)}{i // 1000}-{i % 1000:04d}", password_hash="unused").id
                 for i in range(count)]
        for user_id in users:
            line.join(race_id, bucket_id, user_id, "jti-none")
    return users


def _holds_in_order(bucket_id):
    """(user, arrival) of the bucket's holds in the order they were made."""
    db.session.rollback()
    return db.session.execute(select(Hold.user_id, Hold.arrival).filter_by(bucket_id=bucket_id)
                              .order_by(Hold.id)).all()


def test_an_owner_that_lost_its_lease_can_neither_pop_nor_commit(app, clock):
    with app.app_context():
        race = make_race(clock, opens_in_s=-5, buckets=(("10K", "5", 40),))
        race_id, bucket_id = race.id, bucket(race).id
    _runners(app, race_id, bucket_id, 30, "a")
    with app.app_context():
        race, keys = db.session.get(type(race), race_id), RaceKeys(race_id)
        stale = Lease(keys, bucket_id).__enter__()
        assert stale is not None
        # the stale owner pops a batch, then stalls: its lease runs out and a newer owner takes the bucket
        line.script("POP")(keys=[keys.line(bucket_id), keys.pending(bucket_id), keys.who, keys.seen, keys.joins,
                                 keys.next_ok, keys.lock(bucket_id)],
                           args=[10, 0, 10**12, bucket_id, stale.token])
        stale._stop.set()
        redis_store.client.delete(keys.lock(bucket_id))
        assert batches.admit_bucket(race, bucket_id) == 10  # the newer owner settles the stalled batch
        popped = line.script("POP")(keys=[keys.line(bucket_id), keys.pending(bucket_id), keys.who, keys.seen,
                                          keys.joins, keys.next_ok, keys.lock(bucket_id)],
                                    args=[5, 0, 10**12, bucket_id, stale.token])
        assert popped == [b"lost"]
        # with a batch still pending, the stale owner's commit is refused by the bucket's fence
        redis_store.client.hset(keys.pending(bucket_id), 999999, "999|999")
        try:
            batches._finish_pending(race, bucket_id, stale)
            raise AssertionError("a stale owner committed")
        except LeaseLost:
            db.session.rollback()
        holds = _holds_in_order(bucket_id)
        assert [arrival for _, arrival in holds] == list(range(1, 11))
        assert db.session.get(PaceGroup, bucket_id, populate_existing=True).held == 10


def test_fifo_with_three_workers_one_paused_mid_batch_and_one_with_slow_commits(app, settings, clock, tmp_path):
    with app.app_context():
        race = make_race(clock, opens_in_s=-5, buckets=(("10K", "5", 60),))
        race_id, bucket_id = race.id, bucket(race).id
    users = _runners(app, race_id, bucket_id, 40, "b")
    keys = RaceKeys(race_id)
    short = {"ADMISSION_LEASE_MS": 1000}
    paused = start("worker", settings, tmp_path / "paused.log", MARATHON_FAILPOINT="after_pop:4", **short)
    others = []
    try:
        with app.app_context():
            wait_until(lambda: redis_store.client.hlen(keys.pending(bucket_id)) > 0, what="a popped batch")
        paused.send_signal(signal.SIGSTOP)  # its lease renewer stops too: the lease runs out
        others = [start("worker", settings, tmp_path / "slow.log", MARATHON_FAILPOINT="before_commit:2", **short),
                  start("worker", settings, tmp_path / "plain.log", **short)]
        with app.app_context():
            wait_until(lambda: len(_holds_in_order(bucket_id)) == 25, timeout=40, what="the others to admit")
        paused.send_signal(signal.SIGCONT)
        # the paused worker wakes with its old batch in hand: the bucket's fence refuses its commit
        wait_until(lambda: "newer owner" in (tmp_path / "paused.log").read_text(), timeout=40,
                   what="the paused worker to find it lost the bucket")
    finally:
        for process in (paused, *others):
            stop(process)
    with app.app_context():
        holds = _holds_in_order(bucket_id)
        assert len(holds) == 25 and len({user for user, _ in holds}) == 25
        assert [arrival for _, arrival in holds] == list(range(1, 26))
        assert [user for user, _ in holds] == users[:25]
        assert db.session.get(PaceGroup, bucket_id, populate_existing=True).held == 25
    for log in tmp_path.glob("*.log"):
        assert "Traceback" not in log.read_text(), log.read_text()
