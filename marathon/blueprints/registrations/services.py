"""Holds and registrations: the rules that payment and fair play call (lock, check, change, commit, then Redis)."""
from blinker import Namespace
from sqlalchemy import exists, select, text, update

from marathon.blueprints.auth import services as accounts
from marathon.blueprints.lines import engine as line
from marathon.blueprints.lines.changes import publish_changes
from marathon.blueprints.lines.place import Kind
from marathon.blueprints.races.catalogue import line_name
from marathon.blueprints.races.models import Course, PaceGroup, Race
from marathon.blueprints.registrations.models import Hold, Registration
from marathon.core import metrics
from marathon.core.clock import now
from marathon.core.errors import DomainError, NotFound
from marathon.core.ids import record_id
from marathon.extensions import db

BLOOD_TYPES = ("A+", "A-", "B+", "B-", "O+", "O-", "AB+", "AB-", "unknown")
# sent by the admission (marathon.admission.batches) inside its transaction, before its commit, with race_id,
# bucket_id, moment and holds: (hold id, user id, amount) of each new hold; payment opens each hold's order there, so
# the runner's POST /payments only reads it
holds_created = Namespace().signal("holds-created")


class HoldExpired(DomainError):
    status = 410
    reason = "hold_expired"


def hold_for_payment(hold_id, user_id):
    """The caller's hold, live or already confirmed; raises NotFound (hold_not_found) or HoldExpired."""
    hold = db.session.get(Hold, record_id(hold_id)) if record_id(hold_id) else None
    if hold is None or hold.user_id != int(user_id):
        raise NotFound("no such hold of yours", "hold_not_found")
    if hold.status == "confirmed":
        return hold
    if hold.status != "active" or hold.expires_at <= now():
        if hold.status in ("active", "expired"):  # a payment too late: admission was faster than payments
            line.note_late_payment(hold.race_id)
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
        blood_type=check_blood_type(blood_type), emergency_contact=emergency_contact,
    )
    db.session.add(registration)
    db.session.flush()
    registration_id = registration.id
    db.session.commit()
    line.mark_registered(race_id, int(user_id), bucket_id, registration_id)
    metrics.confirmed(race_id, line_name(bucket_id))
    return registration


def hold_is_live(hold_id, moment):
    """SQL: the hold `hold_id` (a column or value) is active and not yet expired at `moment`."""
    return exists().where(Hold.id == hold_id, Hold.status == "active", Hold.expires_at > moment)


# One statement on PostgreSQL: the hold confirmed, the bucket's counters moved, the course's next bib taken and the
# registration written, or nothing at all when the hold is not live or the course has no bib left (the caller then
# rolls back and asks confirm_hold, which says which).
_REGISTER = text("""
WITH h AS (
  UPDATE holds SET status = 'confirmed', closed_at = :now
  WHERE id = :hold AND user_id = :user AND status = 'active' AND expires_at > :now
    AND EXISTS (SELECT 1 FROM pace_groups p JOIN courses c ON c.id = p.course_id
                WHERE p.id = holds.bucket_id AND c.next_bib < c.bib_end)
  RETURNING id, race_id, bucket_id, amount),
b AS (
  UPDATE pace_groups p SET held = p.held - 1, confirmed = p.confirmed + 1 FROM h
  WHERE p.id = h.bucket_id RETURNING p.course_id, p.code, p.corral),
c AS (
  UPDATE courses c SET next_bib = c.next_bib + 1 FROM b
  WHERE c.id = b.course_id AND c.next_bib < c.bib_end RETURNING c.next_bib - 1 AS bib, c.code),
r AS (
  INSERT INTO registrations (race_id, bucket_id, hold_id, user_id, bib, status, runner_name, blood_type,
                             emergency_contact, amount_paid, created_at)
  SELECT h.race_id, h.bucket_id, h.id, :user, c.bib, 'confirmed', CAST(:name AS varchar), :blood, :contact, h.amount, :now FROM h, c
  RETURNING id, race_id, bucket_id, bib)
SELECT r.id, r.race_id, r.bucket_id, r.bib, c.code AS course, b.code AS pace_group, b.corral FROM r, c, b
""")


def register_hold(hold_id, user_id, blood_type=None, emergency_contact=None):
    """PostgreSQL's fast confirm, inside the caller's transaction (the caller commits, then calls registered()):
    the caller's live hold becomes a registration in one statement. Returns the registration's contract fields with
    race_id and bucket_id, or None when the caller must roll back and use confirm_hold. Raises DomainError
    bad_blood_type."""
    blood_type = check_blood_type(blood_type)
    if db.engine.dialect.name != "postgresql" or record_id(hold_id) is None:
        return None
    row = db.session.execute(
        _REGISTER, {"now": now(), "hold": int(hold_id), "user": int(user_id), "name": accounts.name_of(user_id),
                    "blood": blood_type, "contact": emergency_contact},
    ).one_or_none()
    return dict(row._mapping) if row is not None else None


def registered(place, user_id):
    """After the commit of register_hold: the runner is registered in the line too."""
    line.mark_registered(place["race_id"], int(user_id), place["bucket_id"], place["id"])
    metrics.confirmed(place["race_id"], line_name(place["bucket_id"]))


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


def check_blood_type(value, required=False):
    """The blood type as given (None allowed unless required); raises DomainError 422 bad_blood_type."""
    if value is None and not required:
        return None
    if value not in BLOOD_TYPES:
        raise DomainError(f"blood_type must be one of {', '.join(BLOOD_TYPES)}", "bad_blood_type", status=422)
    return value


def set_emergency_info(registration_id, user_id, blood_type, emergency_contact):
    """Record the runner's blood type and emergency contact on their registration; raises NotFound."""
    registration = registration_of(registration_id, user_id)
    # the owner in the UPDATE itself: a transfer committed since the read leaves the recipient's bib alone
    changed = db.session.execute(
        update(Registration).where(Registration.id == registration.id, Registration.user_id == int(user_id))
        .values(blood_type=check_blood_type(blood_type), emergency_contact=emergency_contact)
    ).rowcount
    if changed != 1:
        db.session.rollback()
        raise NotFound("no such registration of yours", "registration_not_found")
    db.session.commit()
    db.session.refresh(registration)
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
    # a runner's cancel names its owner in the UPDATE itself: one transferred since the read above is not theirs to
    # cancel (an organiser's void, user_id None, has no owner check)
    owned = (Registration.user_id == int(user_id),) if user_id is not None else ()
    done = db.session.execute(
        update(Registration).where(Registration.id == registration.id, Registration.status == "confirmed", *owned)
        .values(status=status, cancelled_at=moment, cancel_reason=reason, cancelled_by=actor)
    ).rowcount
    if done != 1:
        db.session.rollback()
        if user_id is not None and db.session.get(Registration, registration.id).user_id != int(user_id):
            raise NotFound("no such registration of yours", "registration_not_found")
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
        line.end_place(race_id, user_id, (Kind.HELD,), "left", hold_id=str(hold.id))
        publish_changes(race_id, [user_id])
    return bool(released)


def get_registration(registration_id):
    """Any registration, for organisers; raises NotFound (registration_not_found)."""
    registration = db.session.get(Registration, int(registration_id))
    if registration is None:
        raise NotFound(f"no registration {registration_id}", "registration_not_found")
    return registration


def race_registrations(race_id):
    """user id -> (registration id, status) of the race's registrations (a confirmed one wins over older ones)."""
    found = {}
    for registration in db.session.execute(
        select(Registration).filter_by(race_id=race_id).order_by(Registration.id)
    ).scalars():
        if registration.user_id not in found or registration.status == "confirmed":
            found[registration.user_id] = (registration.id, registration.status)
    return found
