"""A Hypothesis state machine over join, leave, admit, expire and confirm, checking the invariants after each step."""
from datetime import date

import redis
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import func, select

from marathon.admission import jobs
from marathon.blueprints.auth.services import create_user
from marathon.blueprints.lines import engine as line
from marathon.blueprints.lines.keys import RaceKeys
from marathon.blueprints.races.models import PaceGroup
from marathon.blueprints.registrations import services
from marathon.blueprints.registrations.models import Hold, Registration
from marathon.core.clock import FrozenClock
from marathon.core.errors import DomainError
from marathon.extensions import db, redis_store
from tests.conftest import _empty_tables
from tests.factories import make_race

RUNNERS = 8


def test_line_invariants_hold_under_any_sequence(app, redis_server):
    app.config["LINE_IDLE_SECONDS"] = 10**6  # idle skipping has its own test; here every runner keeps asking

    class LineMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.context = app.app_context()
            self.context.push()
            _empty_tables()
            redis.Redis.from_url(redis_server.url).flushall()
            self.clock = app.extensions["clock"] = FrozenClock()
            race = make_race(self.clock, opens_in_s=-1, hold_seconds=30, buckets=(("10K", "5", 3), ("5K", "7", 2)))
            self.race_id = race.id
            self.buckets = [b.id for c in race.courses for b in c.pace_groups]
            self.users = [create_user(f"m{i}@example.com", "x" * 12, f"Machine {i}", date(1990, 1, 1),
                                      f"010-7777-{i:04d}", password_hash="unused").id for i in range(RUNNERS)]

        def teardown(self):
            db.session.remove()
            self.context.pop()

        @rule(runner=st.integers(0, RUNNERS - 1), which=st.integers(0, 1))
        def join(self, runner, which):
            user = self.users[runner]
            live = db.session.execute(select(func.count()).select_from(Hold).where(
                Hold.user_id == user, Hold.status.in_(("active", "confirmed")))).scalar()
            try:
                line.join(self.race_id, self.buckets[which], user, "jti")
                assert live == 0, "a runner with a place joined again"
            except DomainError as error:
                assert error.reason in ("already_in_line", "already_registered", "sold_out"), error.reason

        @rule(runner=st.integers(0, RUNNERS - 1))
        def leave(self, runner):
            kind, _ = line.leave(self.race_id, self.users[runner])
            if kind == "H":
                services.release_hold(self.race_id, self.users[runner])

        @rule()
        def admit(self):
            # the jobs the pacemaker enqueues, run in place (the RQ path itself is exercised elsewhere)
            jobs.race_round(self.race_id)
            for bucket_id in self.buckets:
                jobs.admit(self.race_id, bucket_id)

        @rule(seconds=st.integers(1, 40))
        def time_passes(self, seconds):
            self.clock.advance(seconds)

        @rule(runner=st.integers(0, RUNNERS - 1))
        def pay(self, runner):
            hold = db.session.execute(select(Hold).filter_by(user_id=self.users[runner], status="active")).scalar()
            if hold is not None:
                try:
                    services.confirm_hold(hold.id, self.users[runner])
                except DomainError as error:
                    assert error.reason == "hold_expired" and hold.expires_at <= self.clock.now()

        @invariant()
        def places_never_oversold(self):
            db.session.rollback()
            for bucket in db.session.execute(select(PaceGroup)).scalars():
                held = db.session.execute(select(func.count()).select_from(Hold).filter_by(
                    bucket_id=bucket.id, status="active")).scalar()
                confirmed = db.session.execute(select(func.count()).select_from(Registration).filter_by(
                    bucket_id=bucket.id, status="confirmed")).scalar()
                assert (bucket.held, bucket.confirmed) == (held, confirmed)
                assert held + confirmed <= bucket.capacity

        @invariant()
        def one_place_per_person(self):
            rows = db.session.execute(select(Hold.user_id, func.count()).where(
                Hold.status.in_(("active", "confirmed"))).group_by(Hold.user_id)).all()
            assert all(count == 1 for _, count in rows)

        @invariant()
        def first_come_first_served(self):
            for bucket_id in self.buckets:
                arrivals = db.session.execute(
                    select(Hold.arrival).filter_by(bucket_id=bucket_id).order_by(Hold.id)).scalars().all()
                assert arrivals == sorted(arrivals)

        @invariant()
        def no_waiting_runner_is_lost(self):
            keys = RaceKeys(self.race_id)
            client = redis_store.client
            for user, value in client.hgetall(keys.who).items():
                kind, bucket_id = value.decode().split("|")[:2]
                if kind == "L":
                    assert client.zscore(keys.line(bucket_id), user) is not None, value
                if kind == "H":
                    hold = db.session.execute(select(Hold).filter_by(user_id=int(user), status="active")).scalar()
                    assert hold is not None and str(hold.id) == value.decode().split("|")[3]

    run_state_machine_as_test(
        LineMachine, settings=hsettings(max_examples=20, stateful_step_count=30, deadline=None)
    )
