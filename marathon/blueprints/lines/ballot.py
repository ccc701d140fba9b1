"""The runner's side of the ballot and the waitlist: enter, withdraw, leave and where one stands (database only)."""
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from marathon.blueprints.fairplay import proof as proof_of_work
from marathon.blueprints.lines import engine
from marathon.blueprints.lines.models import BallotEntry, WaitlistSeat
from marathon.blueprints.races import catalogue
from marathon.blueprints.races.models import PaceGroup, Race
from marathon.blueprints.registrations import services as registrations
from marathon.blueprints.registrations.models import Hold
from marathon.core.clock import now
from marathon.core.errors import DomainError, NotFound
from marathon.core.security import ensure_not_revoked
from marathon.extensions import db, redis_store

LIVE = ("active", "confirmed")


def _race_and_bucket(race_ref, course, pace_group):
    entry = catalogue.lookup(race_ref)
    bucket_id = catalogue.bucket_id(entry, course, pace_group)
    return db.session.get(Race, entry.race_id), db.session.get(PaceGroup, bucket_id)


def _ensure_no_place(race_id, user_id):
    """Raises DomainError 409 already_registered when the runner holds or has bought a place in this race."""
    if db.session.execute(select(Hold.id).where(Hold.race_id == race_id, Hold.user_id == user_id,
                                                Hold.status.in_(LIVE))).first():
        raise DomainError("you already hold or have bought a place in this race", "already_registered")


def _spend_proof(race, user_id, pow_payload):
    """The same proof of work as a join, spent once. Raises BadProof (400 bad_pow)."""
    if not race.pow_difficulty:
        return
    proof = proof_of_work.verify(race.id, user_id, pow_payload)
    if not redis_store.client.set(proof.spent_key, 1, nx=True, px=proof.ttl_ms):
        raise proof_of_work.BadProof("this proof of work has already been used; ask for a new challenge")


def enter_ballot(race_ref, course, pace_group, claims, ip="", pow_payload=None):
    """Enter the caller in one bucket's ballot; returns {status, line, entry_id}. Raises NotFound (race_not_found),
    DomainError 422 unknown_bucket, 403 ballot_not_open, 409 already_entered / already_registered, 400 bad_pow."""
    ensure_not_revoked(claims)
    race, bucket = _race_and_bucket(race_ref, course, pace_group)
    user_id = int(claims["sub"])
    if not race.ballot_open(now()):
        raise DomainError("this race takes no ballot entries now", "ballot_not_open", status=403)
    _ensure_no_place(race.id, user_id)
    if _entry_of(race.id, user_id) is not None:
        raise DomainError("you have already entered this race's ballot", "already_entered")
    _spend_proof(race, user_id, pow_payload)
    entry = BallotEntry(race_id=race.id, bucket_id=bucket.id, user_id=user_id, status="entered", entered_at=now(),
                        ip=ip or None)
    db.session.add(entry)
    try:
        db.session.commit()
    except IntegrityError:  # a concurrent entry of the same runner won
        db.session.rollback()
        raise DomainError("you have already entered this race's ballot", "already_entered") from None
    return {"status": "entered", "line": bucket.line, "entry_id": entry.id}


def _entry_of(race_id, user_id):
    return db.session.execute(
        select(BallotEntry).where(BallotEntry.race_id == race_id, BallotEntry.user_id == user_id,
                                  BallotEntry.status != "withdrawn")
    ).scalar_one_or_none()


def _hold_view(hold):
    return {"id": hold.id, "expires_at": hold.expires_at.isoformat(), "amount": hold.amount}


def _offer_status(hold, when_live):
    """A runner's status from their offer's hold: live, paid (cancelled later counts as paid) or run out."""
    if hold.status == "active" and hold.expires_at > now():
        return when_live
    if hold.status in ("confirmed", "cancelled"):
        return "confirmed"
    return "expired"


def my_entry(race_ref, claims):
    """{status, line, entry_id, rank, hold} of the caller's ballot entry; raises NotFound (not_entered), DomainError
    401 token_revoked."""
    ensure_not_revoked(claims)
    race = db.session.get(Race, catalogue.lookup(race_ref).race_id)
    user_id = int(claims["sub"])
    entry = _entry_of(race.id, user_id) or db.session.execute(
        select(BallotEntry).where(BallotEntry.race_id == race.id, BallotEntry.user_id == user_id)
        .order_by(BallotEntry.id.desc()).limit(1)
    ).scalar_one_or_none()
    if entry is None:
        raise NotFound("you have not entered this race's ballot", "not_entered")
    bucket = db.session.get(PaceGroup, entry.bucket_id)
    view = {"status": entry.status, "line": bucket.line, "entry_id": entry.id, "rank": entry.rank, "hold": None,
            "capacity": bucket.capacity}
    if entry.status == "skipped":
        view["status"] = "lost"
    elif entry.status == "drawn":
        hold = db.session.get(Hold, entry.hold_id) if entry.hold_id else None
        if hold is not None:
            view["status"] = _offer_status(hold, "won" if entry.rank <= bucket.capacity else "offered")
            if view["status"] in ("won", "offered"):
                view["hold"] = _hold_view(hold)
        else:
            view["status"] = "lost" if race.sale_state(now()) == "closed" else "reserve"
    db.session.rollback()
    return view


def withdraw(race_ref, claims):
    """Withdraw the caller's entry before the draw. Raises NotFound (not_entered), DomainError 409 ballot_closed."""
    ensure_not_revoked(claims)
    race = db.session.get(Race, catalogue.lookup(race_ref).race_id)
    entry = _entry_of(race.id, int(claims["sub"]))
    if entry is None:
        raise NotFound("you have not entered this race's ballot", "not_entered")
    if entry.status != "entered" or race.drawn_at is not None or now() >= race.ballot_closes_at:
        raise DomainError("the ballot has closed: entries can no longer be withdrawn", "ballot_closed")
    done = db.session.execute(update(BallotEntry).where(BallotEntry.id == entry.id, BallotEntry.status == "entered")
                              .values(status="withdrawn")).rowcount
    db.session.commit()
    if not done:
        raise DomainError("the ballot has closed: entries can no longer be withdrawn", "ballot_closed")


def published_draw(race_ref):
    """The race's draw once drawn: {commitment, seed, entries_digest, buckets: [{line, capacity, order}]} (how to
    recompute it: marathon.admission.ballot); raises NotFound (not_drawn, carrying the commitment) before."""
    race = db.session.get(Race, catalogue.lookup(race_ref).race_id)
    if race.sale_mode != "ballot" or race.drawn_at is None:
        raise NotFound("this race's ballot has not been drawn yet", "not_drawn",
                       extra={"commitment": race.ballot_commitment})
    buckets = []
    for course in race.courses:
        for bucket in course.pace_groups:
            order = db.session.execute(
                select(BallotEntry.id).where(BallotEntry.bucket_id == bucket.id, BallotEntry.rank.is_not(None))
                .order_by(BallotEntry.rank)
            ).scalars().all()
            buckets.append({"line": bucket.line, "capacity": bucket.capacity, "order": list(order)})
    view = {"commitment": race.ballot_commitment, "seed": race.ballot_seed, "entries_digest": race.entries_digest,
            "drawn_at": race.drawn_at.isoformat(), "buckets": buckets}
    db.session.rollback()
    return view


# --- the waitlist ---

def join_waitlist(race_ref, course, pace_group, claims):
    """Put the caller on a sold-out bucket's waitlist; returns {status, line, position}. Raises NotFound,
    DomainError 422 unknown_bucket, 409 not_sold_out / already_waitlisted / already_registered."""
    ensure_not_revoked(claims)
    race, bucket = _race_and_bucket(race_ref, course, pace_group)
    user_id = int(claims["sub"])
    _ensure_no_place(race.id, user_id)
    if _seat_of(race.id, user_id) is not None:
        raise DomainError("you are already on a waitlist of this race", "already_waitlisted")
    if bucket.sold_out_at is None:
        raise DomainError("this course and pace group is not sold out", "not_sold_out")
    seat = WaitlistSeat(race_id=race.id, bucket_id=bucket.id, user_id=user_id, status="waiting", joined_at=now())
    db.session.add(seat)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise DomainError("you are already on a waitlist of this race", "already_waitlisted") from None
    # from now on the line of this bucket stays sold out: its freed places are this waitlist's
    engine.mark_waitlisted(race.id, bucket.id, True)
    return {"status": "waiting", "line": bucket.line, "position": _position(seat), "hold": None}


def _seat_of(race_id, user_id):
    return db.session.execute(
        select(WaitlistSeat).where(WaitlistSeat.race_id == race_id, WaitlistSeat.user_id == user_id,
                                   WaitlistSeat.status.in_(("waiting", "offered")))
    ).scalar_one_or_none()


def _position(seat):
    return db.session.execute(
        select(func.count()).where(WaitlistSeat.bucket_id == seat.bucket_id, WaitlistSeat.status == "waiting",
                                   WaitlistSeat.id <= seat.id)
    ).scalar()


def my_seat(race_ref, claims):
    """{status, line, position, hold} of the caller's latest waitlist seat; raises NotFound (not_waitlisted),
    DomainError 401 token_revoked."""
    ensure_not_revoked(claims)
    race_id = catalogue.lookup(race_ref).race_id
    seat = db.session.execute(
        select(WaitlistSeat).where(WaitlistSeat.race_id == race_id, WaitlistSeat.user_id == int(claims["sub"]))
        .order_by(WaitlistSeat.id.desc()).limit(1)
    ).scalar_one_or_none()
    if seat is None:
        raise NotFound("you are not on a waitlist of this race", "not_waitlisted")
    bucket = db.session.get(PaceGroup, seat.bucket_id)
    view = {"status": seat.status, "line": bucket.line, "position": None, "hold": None}
    if seat.status == "waiting":
        view["position"] = _position(seat)
    elif seat.status == "offered":
        hold = db.session.get(Hold, seat.hold_id)
        view["status"] = _offer_status(hold, "offered")
        if view["status"] == "offered":
            view["hold"] = _hold_view(hold)
    db.session.rollback()
    return view


def leave_waitlist(race_ref, claims):
    """Take the caller off the race's waitlist (an open offer is given back too). Raises NotFound (not_waitlisted)."""
    ensure_not_revoked(claims)
    race_id = catalogue.lookup(race_ref).race_id
    user_id = int(claims["sub"])
    seat = _seat_of(race_id, user_id)
    if seat is None:
        raise NotFound("you are not on a waitlist of this race", "not_waitlisted")
    hold_id = seat.hold_id
    db.session.execute(update(WaitlistSeat).where(WaitlistSeat.id == seat.id).values(status="left", left_at=now()))
    db.session.commit()
    if hold_id is not None:
        registrations.release_hold(race_id, user_id)
