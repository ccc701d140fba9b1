"""Race rules: the one lookup by id or slug, creating a race from its spec, the sale's states and their audit trail, and bucket capacities."""
import hashlib
import secrets
from datetime import timedelta

import marshmallow as ma
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from marathon.blueprints.lines import engine as line
from marathon.blueprints.races.models import Course, line_of, PaceGroup, Race, SaleEvent
from marathon.blueprints.races.schemas import describe_errors, RaceSpecSchema
from marathon.core.clock import now
from marathon.core.errors import DomainError, NotFound
from marathon.core.ids import record_id
from marathon.extensions import db

def get_race(ref):
    """The race with this id or slug; raises NotFound (race_not_found)."""
    ref = str(ref)
    race = db.session.get(Race, record_id(ref)) if record_id(ref) else None
    if race is None and "\x00" not in ref:  # PostgreSQL text cannot hold NUL: no slug has one
        race = db.session.execute(select(Race).filter_by(slug=ref)).scalar_one_or_none()
    if race is None:
        raise NotFound(f"no race {ref!r}", "race_not_found")
    return race



# action -> (the state it leads to, the states it may start from)
TRANSITIONS = {
    "open": ("open", ("scheduled", "lobby", "paused")),
    "pause": ("paused", ("open",)),
    "close": ("closed", ("scheduled", "lobby", "open", "paused")),
}
CLOCK = "clock"


class InvalidSpec(DomainError):
    status = 422
    reason = "invalid_race_spec"


def validate_spec(spec):
    """The spec, checked and completed (defaults, bib blocks); raises InvalidSpec naming each bad field."""
    if not isinstance(spec, dict):
        raise InvalidSpec("the race spec must be an object (JSON or YAML mapping)")
    try:
        return RaceSpecSchema().load(spec)
    except ma.ValidationError as error:
        lines = describe_errors(error.messages)
        raise InvalidSpec("invalid race spec: " + "; ".join(lines), errors={"json": error.messages}) from None


def create_race(spec, actor):
    """Create a race with its courses and buckets from a spec; raises InvalidSpec, DomainError 409 slug_taken."""
    data = validate_spec(spec)
    if db.session.execute(select(Race.id).filter_by(slug=data["slug"])).first():
        raise DomainError(f"a race with slug {data['slug']!r} already exists", "slug_taken",
                          errors={"json": {"slug": ["already taken"]}})
    seed = secrets.token_hex(32)
    race = Race(
        slug=data["slug"], name=data["name"], date=data["date"], sale_opens_at=data["sale_opens_at"],
        sale_closes_at=data["sale_closes_at"], lobby_minutes=data["lobby_minutes"],
        hold_seconds=data["hold_seconds"], pow_difficulty=data["pow_difficulty"], refund_until=data["refund_until"],
        transfer_until=data["transfer_until"], shuffle_seed=seed,
        shuffle_commitment=hashlib.sha256(seed.encode()).hexdigest(), sale_mode=data["sale_mode"],
    )
    if data["sale_mode"] == "ballot":
        # the draw's seed, committed to by its SHA-256 from now on, revealed at the draw
        ballot_seed = secrets.token_hex(32)
        race.ballot_opens_at, race.ballot_closes_at = data["ballot_opens_at"], data["ballot_closes_at"]
        race.offer_hours, race.ballot_seed = data["offer_hours"], ballot_seed
        race.ballot_commitment = hashlib.sha256(ballot_seed.encode()).hexdigest()
    db.session.add(race)
    try:
        db.session.flush()
        for spec_course in data["courses"]:
            course = Course(code=spec_course["code"], name=spec_course["name"],
                            distance_km=spec_course["distance_km"], price=spec_course["price"],
                            bib_start=spec_course["bib_start"], bib_end=spec_course["bib_end"],
                            next_bib=spec_course["bib_start"])
            race.courses.append(course)
            course.pace_groups.extend(PaceGroup(race_id=race.id, **group) for group in spec_course["pace_groups"])
        db.session.add(SaleEvent(race_id=race.id, from_state="new", to_state=race.sale_state(now()), actor=actor,
                                 note="race created"))
        db.session.commit()
    except IntegrityError:
        # a concurrent creation took the slug between our check and our insert
        db.session.rollback()
        raise DomainError(f"a race with slug {data['slug']!r} already exists", "slug_taken",
                          errors={"json": {"slug": ["already taken"]}}) from None
    line.publish_race(race)
    return race


def _locked(race_id):
    """The race, re-read under a row lock so that concurrent changes of its state take turns."""
    return db.session.execute(
        select(Race).where(Race.id == race_id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one()


def _last_state(race_id):
    return db.session.execute(
        select(SaleEvent.to_state).where(SaleEvent.race_id == race_id).order_by(SaleEvent.id.desc()).limit(1)
    ).scalar_one_or_none()


def _clock_moment(race, state, moment):
    """When the calendar made this state, as far as it did (else the moment it was noticed)."""
    boundary = {"lobby": race.lobby_opens_at, "open": race.sale_opens_at, "closed": race.sale_closes_at}.get(state)
    return boundary if boundary is not None and boundary <= moment else moment


def observe_clock(race, moment=None):
    """Record (actor 'clock') a change of state the calendar made that no SaleEvent records yet; returns it or None.
    Admins' changes are recorded when made, so a state that differs from the last recorded one is the clock's."""
    moment = moment or now()
    current = race.sale_state(moment)
    if (_last_state(race.id) or "scheduled") == current:
        return None
    race = _locked(race.id)
    last = _last_state(race.id) or "scheduled"
    if last == current:  # another process recorded it while we waited for the lock
        db.session.commit()
        return None
    event = SaleEvent(race_id=race.id, from_state=last, to_state=current, actor=CLOCK,
                      at=_clock_moment(race, current, moment), note=f"by the calendar; noticed at {moment.isoformat()}")
    db.session.add(event)
    db.session.commit()
    return event


def change_sale_state(ref, action, actor):
    """Open, pause or close a race's sale and record who did it; raises NotFound, DomainError 409 illegal_transition."""
    target, allowed = TRANSITIONS[action]
    race = get_race(ref)
    moment = now()
    observe_clock(race, moment)
    race = _locked(race.id)
    current = race.sale_state(moment)
    if current not in allowed:
        db.session.rollback()
        raise DomainError(f"cannot {action} the sale: it is {current} (allowed from {', '.join(allowed)})",
                          "illegal_transition", errors={"from": current, "to": target})
    race.manual_state = target
    db.session.add(SaleEvent(race_id=race.id, from_state=current, to_state=target, actor=actor, at=moment))
    db.session.commit()
    line.publish_race(race)
    return race


def reopen_demo(race, actor, closes_at):
    """The demo race only: open it now whatever its state, moving its closing to `closes_at` if need be."""
    race = _locked(race.id)
    moment = now()
    before = race.sale_state(moment)
    if race.sale_closes_at <= moment:
        race.sale_closes_at = max(closes_at, race.sale_opens_at + timedelta(days=1))
    race.manual_state = "open"
    db.session.add(SaleEvent(race_id=race.id, from_state=before, to_state="open", actor=actor, at=moment,
                             note="demo race reopened"))
    db.session.commit()
    line.publish_race(race)
    return race


def find_bucket(race, course_code, group_code):
    """The bucket of this course and pace group in the race; raises NotFound (bucket_not_found)."""
    bucket = db.session.execute(
        select(PaceGroup).join(Course, PaceGroup.course_id == Course.id)
        .where(Course.race_id == race.id, Course.code == course_code, PaceGroup.code == str(group_code))
    ).scalar_one_or_none()
    if bucket is None:
        raise NotFound(f"race {race.slug} has no bucket {course_code}/{group_code}", "bucket_not_found")
    return bucket


def set_capacity(ref, course_code, group_code, capacity, actor):
    """Change a bucket's capacity, never below its places in use (held + confirmed) nor past its course's unused bibs.
    Raises NotFound, DomainError 409 capacity_below_used or bib_block_too_small, 422 on a negative capacity."""
    if capacity < 0:
        raise DomainError("capacity must be 0 or more", "invalid_capacity", status=422,
                          errors={"json": {"capacity": ["must be 0 or more"]}})
    race = get_race(ref)
    bucket = find_bucket(race, course_code, group_code)
    course = db.session.get(Course, bucket.course_id)
    siblings = db.session.execute(select(PaceGroup).where(PaceGroup.course_id == course.id)).scalars().all()
    # every place that may still be paid for takes a new bib (bibs are never reused): they must fit in the block
    to_confirm = sum(other.capacity - other.confirmed for other in siblings if other.id != bucket.id)
    unused_bibs = course.bib_end - course.next_bib
    if to_confirm + capacity - bucket.confirmed > unused_bibs:
        db.session.rollback()
        raise DomainError(f"{bucket.line} cannot grow to {capacity}: course {course.code} has {unused_bibs} unused "
                          f"bib numbers for {to_confirm + capacity - bucket.confirmed} places", "bib_block_too_small")
    before = bucket.capacity
    # one conditional UPDATE: an admission committing at the same moment is either counted here or waits for us
    changed = db.session.execute(
        update(PaceGroup).where(PaceGroup.id == bucket.id, PaceGroup.held + PaceGroup.confirmed <= capacity)
        .values(capacity=capacity)
    ).rowcount
    if changed != 1:
        db.session.rollback()
        used = db.session.get(PaceGroup, bucket.id, populate_existing=True)
        raise DomainError(f"{used.line} cannot go below its {used.held + used.confirmed} places in use "
                          f"({used.held} held, {used.confirmed} confirmed)", "capacity_below_used",
                          errors={"json": {"capacity": [f"at least {used.held + used.confirmed}"]}})
    moment = now()
    state = race.sale_state(moment)
    db.session.add(SaleEvent(race_id=race.id, from_state=state, to_state=state, actor=actor, at=moment,
                             note=f"capacity of {line_of(course.code, bucket.code)}: {before} -> {capacity}"))
    db.session.commit()
    db.session.refresh(bucket)
    line.publish_race(race)
    return bucket


def sale_events(race):
    """The race's audit trail, oldest first."""
    return db.session.execute(
        select(SaleEvent).where(SaleEvent.race_id == race.id).order_by(SaleEvent.id)
    ).scalars().all()
