"""Offers: places that go to a named runner instead of the head of a line.

- Ballot (a race in ballot mode, once drawn): while a bucket has a free place, the next drawn entry without an offer,
  in draw order, gets a hold lasting `offer_hours` (winners first, then the reserve as offers expire).
- Waitlist (both modes): a bucket is sold out for its line once every place is confirmed and none is held (first
  come: when SELL_OUT told the line; ballot: once its reserve is used up too); `sold_out_at` records it for good.
  From then on, while its waitlist has runners, the line stays sold out (the Redis flag is set again each round, so
  new joins get 409 sold_out and admission pops nobody) and every freed place (cancellation, void, expired hold or
  offer) becomes a hold for the waitlist's head: `offer_hours` in ballot mode, the race's `hold_seconds` otherwise.
  With an empty waitlist a freed place goes back to the line, as before.
Offers run in the race's round (marathon.admission.jobs.race_round, via policies), one transaction per offer with
the bucket's row locked, as admission does; the CHECK held + confirmed <= capacity stays the real guard.
"""
from datetime import timedelta

from flask import current_app
from sqlalchemy import exists, func, select, update
from sqlalchemy.exc import IntegrityError

from marathon.admission.batches import buckets_of
from marathon.blueprints.lines import engine as line
from marathon.blueprints.lines.keys import RaceKeys
from marathon.blueprints.lines.models import BallotEntry, WaitlistSeat
from marathon.blueprints.races.models import Course, PaceGroup
from marathon.blueprints.registrations.models import Hold
from marathon.blueprints.registrations.services import holds_created
from marathon.core.clock import now, to_ms
from marathon.extensions import db

# holds of offers carry a negative arrival (holds are unique per bucket and arrival): -entry id for a ballot entry,
# -(WAITLIST_ARRIVALS + seat id) for a waitlist seat; so each entry or seat gets at most one hold
WAITLIST_ARRIVALS = 1_000_000_000
TAKEN = "taken"


def offer_deadline(race, moment):
    """When an offer made at `moment` runs out: offer_hours in ballot mode, the race's hold_seconds otherwise."""
    if race.sale_mode == "ballot":
        return moment + timedelta(hours=race.offer_hours)
    return moment + timedelta(seconds=race.hold_seconds)


def waitlist_waiting(bucket_id):
    """SQL: the bucket has runners waiting on its waitlist (no offer yet)."""
    return exists().where(WaitlistSeat.bucket_id == bucket_id, WaitlistSeat.status == "waiting")


def offer_places(race):
    """Make the offers the race's free places call for (ballot reserve first, then waitlists); returns how many.
    A first-come race without a sold-out bucket costs two queries a round."""
    moment = now()
    if race.sale_state(moment) == "closed":
        return 0
    made = 0
    # (id, sold out already, full now): a bucket's row is read again only when it may change
    buckets = [(bucket.id, bucket.sold_out_at is not None, bucket.confirmed >= bucket.capacity and not bucket.held)
               for bucket in buckets_of(race.id)]
    waiting = waitlist_sizes(race.id)
    db.session.rollback()
    ballot_drawn = race.sale_mode == "ballot" and race.drawn_at is not None
    for bucket_id, sold_out, full in buckets:
        if ballot_drawn:
            made += _offer_ballot(race, bucket_id)
        if sold_out or ((full or ballot_drawn) and _mark_sold_out(race, bucket_id)):
            line.mark_waitlisted(race.id, bucket_id, bool(waiting.get(bucket_id)))
            if waiting.get(bucket_id):
                made += _offer_waitlist(race, bucket_id)
    db.session.rollback()
    return made


def _offer_ballot(race, bucket_id):
    made = 0
    while True:
        entry = db.session.execute(
            select(BallotEntry).where(BallotEntry.bucket_id == bucket_id, BallotEntry.status == "drawn",
                                      BallotEntry.hold_id.is_(None)).order_by(BallotEntry.rank).limit(1)
        ).scalar_one_or_none()
        if entry is None:
            return made
        still = exists().where(BallotEntry.id == entry.id, BallotEntry.status == "drawn",
                               BallotEntry.hold_id.is_(None))
        hold_id = _offer(race, bucket_id, entry.user_id, "ballot", -entry.id, still)
        if hold_id is None:
            return made
        if hold_id is TAKEN:
            continue
        if hold_id is False:  # the runner holds a place in this race already
            db.session.execute(update(BallotEntry).where(BallotEntry.id == entry.id).values(status="skipped"))
        else:
            db.session.execute(update(BallotEntry).where(BallotEntry.id == entry.id).values(hold_id=hold_id))
            made += 1
        db.session.commit()


def _mark_sold_out(race, bucket_id):
    """Record the moment the bucket is sold out for its line (every place confirmed, none held, no reserve left);
    returns whether it is."""
    bucket = db.session.get(PaceGroup, bucket_id, populate_existing=True)
    if bucket.sold_out_at is not None:
        db.session.rollback()
        return True
    if bucket.confirmed < bucket.capacity or bucket.held > 0:
        db.session.rollback()
        return False
    if race.sale_mode == "ballot":
        reserve_left = db.session.execute(select(exists().where(
            BallotEntry.bucket_id == bucket_id, BallotEntry.status == "drawn", BallotEntry.hold_id.is_(None)))
        ).scalar()
        if race.drawn_at is None or reserve_left:
            db.session.rollback()
            return False
    db.session.execute(update(PaceGroup).where(PaceGroup.id == bucket_id, PaceGroup.sold_out_at.is_(None))
                       .values(sold_out_at=now()))
    db.session.commit()
    return True


def _offer_waitlist(race, bucket_id):
    keep_line_sold_out(race.id, bucket_id)
    made = 0
    while True:
        seat = db.session.execute(
            select(WaitlistSeat).where(WaitlistSeat.bucket_id == bucket_id, WaitlistSeat.status == "waiting")
            .order_by(WaitlistSeat.id).limit(1)
        ).scalar_one_or_none()
        if seat is None:
            return made
        still = exists().where(WaitlistSeat.id == seat.id, WaitlistSeat.status == "waiting")
        hold_id = _offer(race, bucket_id, seat.user_id, "waitlist", -(WAITLIST_ARRIVALS + seat.id), still)
        if hold_id is None:
            return made
        if hold_id is TAKEN:
            continue
        if hold_id is False:
            db.session.execute(update(WaitlistSeat).where(WaitlistSeat.id == seat.id)
                               .values(status="left", left_at=now()))
        else:
            db.session.execute(update(WaitlistSeat).where(WaitlistSeat.id == seat.id)
                               .values(status="offered", hold_id=hold_id))
            made += 1
        db.session.commit()


def keep_line_sold_out(race_id, bucket_id):
    """A bucket with a waitlist stays sold out for its line: the Redis flag set again, anyone in line told so."""
    keys = RaceKeys(race_id)
    line.script("SELL_OUT")(
        keys=[keys.bucket(bucket_id), keys.line(bucket_id), keys.lobby(bucket_id), keys.who, keys.joins],
        args=[bucket_id, to_ms(now())],
    )


def _offer(race, bucket_id, user_id, source, arrival, still_due):
    """Inside the caller's transaction (which it commits): a hold for this runner if the bucket (locked) has a free
    place and the entry or seat is `still_due` (SQL). Returns the hold's id, None without a free place (rolled
    back), TAKEN when another round served this entry or seat first (rolled back), False if the runner already
    holds a place in this race (the caller marks the entry or seat)."""
    moment = now()
    bucket = db.session.execute(
        select(PaceGroup).filter_by(id=bucket_id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one()
    if bucket.free <= 0:
        db.session.rollback()
        return None
    # offers of a bucket are serialised by its row lock: what was chosen before the lock is checked again under it
    if not db.session.execute(select(still_due)).scalar():
        db.session.rollback()
        return TAKEN
    price = db.session.execute(select(Course.price).where(Course.id == bucket.course_id)).scalar_one()
    try:
        with db.session.begin_nested():
            hold_id = db.session.execute(
                Hold.__table__.insert().returning(Hold.id),
                {"race_id": race.id, "bucket_id": bucket_id, "user_id": user_id, "arrival": arrival,
                 "status": "active", "amount": price, "created_at": moment,
                 "expires_at": offer_deadline(race, moment), "source": source},
            ).scalar_one()
    except IntegrityError:
        return False
    holds_created.send(current_app._get_current_object(), race_id=race.id, bucket_id=bucket_id,
                       holds=[(hold_id, user_id, price)], moment=moment)
    db.session.execute(update(PaceGroup).where(PaceGroup.id == bucket_id)
                       .values(held=PaceGroup.held + 1, admitted_total=PaceGroup.admitted_total + 1))
    return hold_id


def waitlist_sizes(race_id):
    """bucket id -> runners waiting on its waitlist."""
    return dict(db.session.execute(
        select(WaitlistSeat.bucket_id, func.count()).where(WaitlistSeat.race_id == race_id,
                                                           WaitlistSeat.status == "waiting")
        .group_by(WaitlistSeat.bucket_id)
    ).all())
