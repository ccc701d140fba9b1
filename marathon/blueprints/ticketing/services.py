"""Holds and registrations: the rules that payment and fair play call (lock, check, change, commit, then Redis)."""
from sqlalchemy import select, update

from marathon.blueprints.auth import services as accounts
from marathon.blueprints.ticketing import journal, line
from marathon.blueprints.ticketing.admission import bucket_name
from marathon.blueprints.ticketing.changes import publish_changes
from marathon.blueprints.ticketing.models import Course, Hold, LineEntry, PaceGroup, Race, Registration
from marathon.core import metrics
from marathon.core.clock import now
from marathon.core.errors import DomainError, NotFound
from marathon.core.ids import record_id
from marathon.extensions import db

BLOOD_TYPES = ("A+", "A-", "B+", "B-", "O+", "O-", "AB+", "AB-", "unknown")


class HoldExpired(DomainError):
    status = 410
    reason = "hold_expired"


def get_race(ref):
    """The race with this id or slug; raises NotFound (race_not_found)."""
    ref = str(ref)
    race = db.session.get(Race, record_id(ref)) if record_id(ref) else None
    if race is None and "\x00" not in ref:  # PostgreSQL text cannot hold NUL: no slug has one
        race = db.session.execute(select(Race).filter_by(slug=ref)).scalar_one_or_none()
    if race is None:
        raise NotFound(f"no race {ref!r}", "race_not_found")
    return race


def hold_for_payment(hold_id, user_id):
    """The caller's hold, live or already confirmed; raises NotFound (hold_not_found) or HoldExpired."""
    hold = db.session.get(Hold, record_id(hold_id)) if record_id(hold_id) else None
    if hold is None or hold.user_id != int(user_id):
        raise NotFound("no such hold of yours", "hold_not_found")
    if hold.status == "confirmed":
        return hold
    if hold.status != "active" or hold.expires_at <= now():
        raise HoldExpired("the hold has expired; join the line again")
    return hold


def confirm_hold(hold_id, user_id, blood_type=None, emergency_contact=None):
    """Turn the caller's live hold into a registration with a bib; idempotent. Raises NotFound or HoldExpired."""
    if record_id(hold_id) is None:
        raise NotFound("no such hold of yours", "hold_not_found")
    existing = _registration_of_hold(hold_id, user_id)
    if existing is not None:
        return existing
    moment = now()
    claimed = db.session.execute(
        update(Hold)
        .where(Hold.id == int(hold_id), Hold.user_id == int(user_id), Hold.status == "active", Hold.expires_at > moment)
        .values(status="confirmed", closed_at=moment)
        .returning(Hold.race_id, Hold.bucket_id, Hold.amount)
    ).one_or_none()
    if claimed is None:
        db.session.rollback()
        existing = _registration_of_hold(hold_id, user_id)
        if existing is not None:  # a concurrent confirm won
            return existing
        hold_for_payment(hold_id, user_id)  # raises the right error
        raise HoldExpired("the hold has expired; join the line again")
    race_id, bucket_id, amount = claimed
    course_id = db.session.execute(
        update(PaceGroup).where(PaceGroup.id == bucket_id)
        .values(held=PaceGroup.held - 1, confirmed=PaceGroup.confirmed + 1).returning(PaceGroup.course_id)
    ).scalar_one()
    registration = Registration(
        race_id=race_id, bucket_id=bucket_id, hold_id=int(hold_id), user_id=int(user_id), bib=_next_bib(course_id),
        runner_name=accounts.name_of(user_id), amount_paid=amount, status="confirmed",
        blood_type=_blood_type(blood_type), emergency_contact=emergency_contact,
    )
    db.session.add(registration)
    db.session.flush()
    registration_id = registration.id
    db.session.commit()
    line.mark_registered(race_id, int(user_id), bucket_id, registration_id)
    metrics.confirmed(race_id, bucket_name(bucket_id))
    return registration


def _registration_of_hold(hold_id, user_id):
    registration = db.session.execute(select(Registration).filter_by(hold_id=int(hold_id))).scalar_one_or_none()
    if registration is not None and registration.user_id != int(user_id):
        raise NotFound("no such hold of yours", "hold_not_found")
    return registration


def _next_bib(course_id):
    """Take the course's next bib number; numbers are never handed out twice."""
    taken = db.session.execute(
        update(Course).where(Course.id == course_id, Course.next_bib < Course.bib_end)
        .values(next_bib=Course.next_bib + 1).returning(Course.next_bib)
    ).scalar_one_or_none()
    if taken is None:
        db.session.rollback()
        raise DomainError("this course has no bib numbers left; tell the organiser", "bibs_exhausted", status=503)
    return taken - 1


def _blood_type(value):
    if value is None:
        return None
    if value not in BLOOD_TYPES:
        raise DomainError(f"blood_type must be one of {', '.join(BLOOD_TYPES)}", "bad_blood_type", status=422)
    return value


def set_emergency_info(registration_id, user_id, blood_type, emergency_contact):
    """Record the runner's blood type and emergency contact on their registration; raises NotFound."""
    registration = registration_of(registration_id, user_id)
    registration.blood_type = _blood_type(blood_type)
    registration.emergency_contact = emergency_contact
    db.session.commit()
    return registration


def cancel_registration(registration_id, actor, user_id=None, reason=None, enforce_window=True, status="cancelled"):
    """Cancel a confirmed registration and free its place for the line.
    Raises NotFound, DomainError 409 not_cancellable or refund_window_closed."""
    registration = (
        registration_of(registration_id, user_id) if user_id is not None
        else db.session.get(Registration, record_id(registration_id)) if record_id(registration_id) else None
    )
    if registration is None:
        raise NotFound("no such registration", "registration_not_found")
    race = db.session.get(Race, registration.race_id)
    moment = now()
    if enforce_window and moment > race.refund_until:
        raise DomainError("the refund window of this race has closed", "refund_window_closed")
    done = db.session.execute(
        update(Registration).where(Registration.id == registration.id, Registration.status == "confirmed")
        .values(status=status, cancelled_at=moment, cancel_reason=reason, cancelled_by=actor)
    ).rowcount
    if done != 1:
        db.session.rollback()
        raise DomainError("this registration is not active", "not_cancellable")
    db.session.execute(update(Hold).where(Hold.id == registration.hold_id).values(status="cancelled", closed_at=moment))
    db.session.execute(
        update(PaceGroup).where(PaceGroup.id == registration.bucket_id).values(confirmed=PaceGroup.confirmed - 1)
    )
    db.session.commit()
    db.session.refresh(registration)
    line.mark_place_freed(registration.race_id, registration.user_id, registration.bucket_id, "cancelled")
    return registration


def registration_of(registration_id, user_id):
    """The caller's own registration; raises NotFound for anyone else's."""
    found = record_id(registration_id)
    registration = db.session.get(Registration, found) if found else None
    if registration is None or registration.user_id != int(user_id):
        raise NotFound("no such registration of yours", "registration_not_found")
    return registration


def registrations_of(user_id):
    """Every registration of this runner, newest first."""
    return db.session.execute(
        select(Registration).filter_by(user_id=int(user_id)).order_by(Registration.id.desc())
    ).scalars().all()


def registration_view(registration):
    """The contract's fields of a registration (one query for its race and bucket)."""
    slug, race_id, course, pace_group, corral = db.session.execute(
        select(Race.slug, Race.id, Course.code, PaceGroup.code, PaceGroup.corral)
        .join(Course, Course.id == PaceGroup.course_id).join(Race, Race.id == PaceGroup.race_id)
        .where(PaceGroup.id == registration.bucket_id)
    ).one()
    return {
        "id": registration.id,
        "race": slug,
        "race_id": race_id,
        "course": course,
        "pace_group": pace_group,
        "corral": corral,
        "bib": registration.bib,
        "status": registration.status,
        "runner_name": registration.runner_name,
        "blood_type": registration.blood_type,
        "emergency_contact": registration.emergency_contact,
        "amount_paid": registration.amount_paid,
    }


def bucket_title(bucket_id):
    """'<race name> <course> <pace label>' of a bucket, e.g. for a payment's order name."""
    name, course, label = db.session.execute(
        select(Race.name, Course.code, PaceGroup.label)
        .join(Course, Course.id == PaceGroup.course_id).join(Race, Race.id == PaceGroup.race_id)
        .where(PaceGroup.id == bucket_id)
    ).one()
    return f"{name} {course} {label}"


def release_hold(race_id, user_id):
    """Give back the runner's live hold in this race (they left the line while admitted); returns whether one was."""
    hold = db.session.execute(
        select(Hold).filter_by(race_id=race_id, user_id=int(user_id), status="active")
    ).scalar_one_or_none()
    if hold is None:
        return False
    released = db.session.execute(
        update(Hold).where(Hold.id == hold.id, Hold.status == "active").values(status="released", closed_at=now())
    ).rowcount
    if released:
        db.session.execute(update(PaceGroup).where(PaceGroup.id == hold.bucket_id).values(held=PaceGroup.held - 1))
    db.session.commit()
    if released:
        line.transition(race_id, user_id, "H", "X", "left", hold_id=str(hold.id))
        publish_changes(race_id, [user_id])
    return bool(released)


def get_registration(registration_id):
    """Any registration, for organisers; raises NotFound (registration_not_found)."""
    registration = db.session.get(Registration, int(registration_id))
    if registration is None:
        raise NotFound(f"no registration {registration_id}", "registration_not_found")
    return registration


def race_joins(race_id):
    """Every journaled join of the race (the journal flushed first), as dicts, in order of joining."""
    journal.flush_joins(race_id)
    rows = db.session.execute(
        select(LineEntry).filter_by(race_id=race_id).order_by(LineEntry.joined_at, LineEntry.id)
    ).scalars().all()
    return [{"user_id": e.user_id, "bucket_id": e.bucket_id, "arrival": e.arrival, "lobby": e.lobby,
             "joined_at": e.joined_at, "ip": e.ip, "pow_ms": e.pow_ms, "status": e.status} for e in rows]


def race_registrations(race_id):
    """user id -> (registration id, status) of the race's registrations (a confirmed one wins over older ones)."""
    found = {}
    for registration in db.session.execute(
        select(Registration).filter_by(race_id=race_id).order_by(Registration.id)
    ).scalars():
        if registration.user_id not in found or registration.status == "confirmed":
            found[registration.user_id] = (registration.id, registration.status)
    return found
