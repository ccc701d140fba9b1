"""A Hypothesis state machine over a ballot race and its waitlists: enter, withdraw, draw, offer, pay, expire,
cancel, waitlist and leave, checking the invariants after each step."""
import hashlib
from datetime import date, timedelta

import redis
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import func, select

from marathon.admission import jobs
from marathon.blueprints.auth.services import create_user
from marathon.blueprints.lines import ballot
from marathon.blueprints.lines.models import BallotEntry, WaitlistSeat
from marathon.blueprints.races.models import PaceGroup, Race
from marathon.blueprints.registrations import services
from marathon.blueprints.registrations.models import Hold, Registration
from marathon.core.clock import FrozenClock
from marathon.core.errors import DomainError
from marathon.extensions import db
from tests.conftest import _empty_tables
from tests.factories import make_race

RUNNERS = 7
BUCKETS = (("10K", "5"), ("5K", "7"))


def test_ballot_and_waitlist_invariants_hold_under_any_sequence(app, redis_server):
    class BallotMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.context = app.app_context()
            self.context.push()
            _empty_tables()
            redis.Redis.from_url(redis_server.url).flushall()
            self.clock = app.extensions["clock"] = FrozenClock()
            race = make_race(self.clock, opens_in_s=-1, buckets=(("10K", "5", 2), ("5K", "7", 1)))
            seed = "machine-seed"
            race.sale_mode, race.offer_hours, race.ballot_seed = "ballot", 2, seed
            race.ballot_commitment = hashlib.sha256(seed.encode()).hexdigest()
            race.ballot_opens_at = self.clock.now() - timedelta(seconds=1)
            race.ballot_closes_at = self.clock.now() + timedelta(hours=1)
            db.session.commit()
            self.race_id = race.id
            self.users = [create_user(f"b{i}@example.com", "x" * 12, f"Ballot {i}", date(1990, 1, 1),
                                      f"010-6666-{i:04d}", password_hash="unused").id for i in range(RUNNERS)]

        def teardown(self):
            db.session.remove()
            self.context.pop()

        def claims(self, runner):
            return {"sub": str(self.users[runner]), "jti": f"jti-{runner}"}

        @rule(runner=st.integers(0, RUNNERS - 1), which=st.integers(0, 1))
        def enter(self, runner, which):
            try:
                ballot.enter_ballot(self.race_id, *BUCKETS[which], self.claims(runner))
            except DomainError as error:
                assert error.reason in ("already_entered", "ballot_not_open", "already_registered"), error.reason

        @rule(runner=st.integers(0, RUNNERS - 1))
        def withdraw(self, runner):
            try:
                ballot.withdraw(self.race_id, self.claims(runner))
            except DomainError as error:
                assert error.reason in ("not_entered", "ballot_closed"), error.reason

        @rule(runner=st.integers(0, RUNNERS - 1), which=st.integers(0, 1))
        def waitlist(self, runner, which):
            try:
                ballot.join_waitlist(self.race_id, *BUCKETS[which], self.claims(runner))
            except DomainError as error:
                assert error.reason in ("not_sold_out", "already_waitlisted", "already_registered"), error.reason

        @rule(runner=st.integers(0, RUNNERS - 1))
        def leave_waitlist(self, runner):
            try:
                ballot.leave_waitlist(self.race_id, self.claims(runner))
            except DomainError as error:
                assert error.reason == "not_waitlisted", error.reason

        @rule()
        def workers_round(self):
            # the draw at the close, offers, expiry: what the pacemaker's race round does
            jobs.race_round(self.race_id)

        @rule(minutes=st.integers(1, 150))
        def time_passes(self, minutes):
            self.clock.advance(minutes * 60)

        @rule(runner=st.integers(0, RUNNERS - 1))
        def pay(self, runner):
            hold = db.session.execute(select(Hold).filter_by(user_id=self.users[runner], status="active")).scalar()
            if hold is not None:
                try:
                    services.confirm_hold(hold.id, self.users[runner])
                except DomainError as error:
                    assert error.reason == "hold_expired" and hold.expires_at <= self.clock.now()

        @rule(runner=st.integers(0, RUNNERS - 1))
        def cancel(self, runner):
            registration = db.session.execute(
                select(Registration).filter_by(user_id=self.users[runner], status="confirmed")).scalar()
            if registration is not None:
                services.cancel_registration(registration.id, "machine", enforce_window=False)

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
        def one_of_each_per_person(self):
            for query in (
                select(Hold.user_id, func.count()).where(Hold.status.in_(("active", "confirmed"))),
                select(BallotEntry.user_id, func.count()).where(BallotEntry.status != "withdrawn"),
                select(WaitlistSeat.user_id, func.count()).where(WaitlistSeat.status.in_(("waiting", "offered"))),
            ):
                assert all(count == 1 for _, count in db.session.execute(query.group_by("user_id")).all())

        @invariant()
        def places_go_by_offers_in_order(self):
            # a ballot race admits nobody from a line; offers follow the draw's ranks, then the waitlist's order
            assert db.session.execute(select(func.count()).select_from(Hold).where(Hold.source == "line")).scalar() == 0
            race = db.session.get(Race, self.race_id)
            for bucket in db.session.execute(select(PaceGroup)).scalars():
                ranks = db.session.execute(
                    select(BallotEntry.rank, BallotEntry.hold_id).where(BallotEntry.bucket_id == bucket.id,
                                                                        BallotEntry.status == "drawn")
                    .order_by(BallotEntry.rank)).all()
                offered = [hold_id is not None for _rank, hold_id in ranks]
                assert offered == sorted(offered, reverse=True), ranks
                if race.drawn_at is None:
                    assert not offered
                seats = db.session.execute(
                    select(WaitlistSeat.id, WaitlistSeat.hold_id).where(
                        WaitlistSeat.bucket_id == bucket.id, WaitlistSeat.status.in_(("waiting", "offered")))
                    .order_by(WaitlistSeat.id)).all()
                served = [hold_id is not None for _id, hold_id in seats]
                assert served == sorted(served, reverse=True), seats
                if any(served):
                    assert bucket.sold_out_at is not None

    run_state_machine_as_test(
        BallotMachine, settings=hsettings(max_examples=15, stateful_step_count=40, deadline=None)
    )
