"""A worker process killed with SIGKILL in the middle of a batch loses no runner and admits nobody twice."""
import signal

import pytest
from sqlalchemy import func, select

from marathon.blueprints.lines import engine as line
from marathon.blueprints.lines.keys import RaceKeys
from marathon.blueprints.races.models import PaceGroup
from marathon.blueprints.registrations.models import Hold
from marathon.extensions import db, redis_store
from tests.factories import bucket, make_race
from tests.processes import start, stop, wait_until


def _join_many(app, clock, runners, race_id, bucket_id):
    from marathon.blueprints.auth.services import create_user
    from datetime import date

    with app.app_context():
        user_ids = [
            create_user(f"crash{i}@example.com", "x" * 12, f"Crash {i}", date(1990, 1, 1), f"010-5555-{i:04d}",
                        password_hash="unused").id
            for i in range(runners)
        ]
        for user_id in user_ids:
            line.join(race_id, bucket_id, user_id, "jti-none")
    return user_ids


@pytest.mark.parametrize("failpoint", ["after_pop", "after_commit"])
def test_sigkill_mid_batch(app, settings, clock, tmp_path, failpoint):
    # within the opening admission window (pacing.START_PER_BUCKET), so one batch admits the whole bucket
    capacity, runners = 20, 30
    with app.app_context():
        race = make_race(clock, opens_in_s=-5, buckets=(("10K", "5", capacity),))
        race_id, bucket_id = race.id, bucket(race).id
    user_ids = _join_many(app, clock, runners, race_id, bucket_id)
    keys = RaceKeys(race_id)

    doomed = start("worker", settings, tmp_path / "doomed.log", MARATHON_FAILPOINT=f"{failpoint}:60")
    try:
        with app.app_context():
            if failpoint == "after_pop":
                wait_until(lambda: redis_store.client.hlen(keys.pending(bucket_id)) > 0, what="a popped batch")
            else:
                wait_until(lambda: db.session.execute(select(func.count()).select_from(Hold)).scalar() > 0
                           and not db.session.rollback(), what="a committed batch")
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(10)
    finally:
        stop(doomed)

    survivor = start("worker", settings, tmp_path / "survivor.log")
    try:
        with app.app_context():
            def settled():
                db.session.rollback()
                held = db.session.get(PaceGroup, bucket_id, populate_existing=True).held
                return held == capacity and redis_store.client.hlen(keys.pending(bucket_id)) == 0
            wait_until(settled, timeout=40, what="the survivor to finish the batch")
    finally:
        stop(survivor)

    with app.app_context():
        holds = db.session.execute(select(Hold.user_id, Hold.arrival).filter_by(bucket_id=bucket_id)).all()
        assert len(holds) == capacity and len({user for user, _ in holds}) == capacity
        assert sorted(arrival for _, arrival in holds) == list(range(1, capacity + 1))
        waiting = [int(user) for user in redis_store.client.zrange(keys.line(bucket_id), 0, -1)]
        assert waiting == user_ids[capacity:]
        for user_id, _arrival in holds:
            assert redis_store.client.hget(keys.who, user_id).decode().startswith("H|")
