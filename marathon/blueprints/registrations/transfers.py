"""The official transfer: a registration keeps its bib and moves to another runner's name. Nothing else moves a bib."""
from flask import current_app
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from marathon.blueprints.auth import services as accounts
from marathon.blueprints.lines import engine as line
from marathon.blueprints.lines.place import Kind
from marathon.blueprints.races.models import Race
from marathon.blueprints.registrations import services
from marathon.blueprints.registrations.models import Hold, Registration, Transfer
from marathon.core.clock import now
from marathon.core.errors import DomainError, NotFound
from marathon.extensions import db


def transfer_registration(registration_id, user_id, to_email, blood_type, emergency_contact):
    """Hand the caller's registration, same bib, to the runner with account `to_email`, at face value (no money
    moves through us); records a Transfer. An account gives at most TRANSFERS_PER_RACE transfers per race, and its
    place in the race's line ends as `transferred`, which the join refuses (transferred_away). The sender's order
    stays the sender's: the recipient can neither read it nor have it refunded. Raises NotFound
    (registration_not_found, unknown_recipient), DomainError 409 not_transferable / transfer_closed /
    recipient_registered / transfer_limit, 422 bad_blood_type."""
    registration = services.registration_of(registration_id, user_id)
    if registration.status != "confirmed":
        raise DomainError("only a confirmed registration can be transferred", "not_transferable")
    race = db.session.get(Race, registration.race_id)
    if now() > race.transfer_until:
        raise DomainError(f"transfers of this race closed at {race.transfer_until.isoformat()}", "transfer_closed")
    services.check_blood_type(blood_type, required=True)
    if _transfers_given(race.id, user_id) >= current_app.config["TRANSFERS_PER_RACE"]:
        raise DomainError("you have already transferred a bib of this race", "transfer_limit")
    recipient = accounts.find_user_by_email(to_email)
    if recipient is None:
        raise NotFound("no account with this email: the runner must sign up first", "unknown_recipient")
    if recipient.id == registration.user_id or _holds_a_place(race.id, recipient.id):
        raise DomainError("the recipient already holds a place in this race", "recipient_registered")
    sender_id, sender_name = registration.user_id, registration.runner_name
    arrival = db.session.get(Hold, registration.hold_id).arrival
    # Redis first: the recipient can no longer join a line, and one who is waiting or admitted is refused
    if not line.claim_registered(race.id, recipient.id, registration.bucket_id, arrival, registration.id):
        db.session.rollback()
        raise DomainError("the recipient is waiting in a line of this race or holds a place in it",
                          "recipient_registered")
    try:
        moved = db.session.execute(
            update(Registration)
            .where(Registration.id == registration.id, Registration.user_id == int(user_id),
                   Registration.status == "confirmed")
            .values(user_id=recipient.id, runner_name=recipient.name, blood_type=blood_type,
                    emergency_contact=emergency_contact)
        ).rowcount
        if moved != 1:
            raise DomainError("this registration was just cancelled or transferred", "not_transferable")
        db.session.execute(update(Hold).where(Hold.id == registration.hold_id).values(user_id=recipient.id))
        db.session.add(Transfer(registration_id=registration.id, from_user_id=sender_id, to_user_id=recipient.id,
                                from_name=sender_name, to_name=recipient.name, at=now()))
        db.session.commit()
    except IntegrityError:
        # the partial unique indexes (one live hold, one registration per person and race) are the final guard
        _undo_claim(race.id, recipient.id, registration.id)
        raise DomainError("the recipient already holds a place in this race", "recipient_registered") from None
    except DomainError:
        _undo_claim(race.id, recipient.id, registration.id)
        raise
    line.end_place(race.id, sender_id, (Kind.REGISTERED,), "transferred", hold_id=str(registration.id))
    db.session.refresh(registration)
    return registration


def _transfers_given(race_id, user_id):
    return db.session.scalar(
        select(func.count(Transfer.id)).join(Registration, Registration.id == Transfer.registration_id)
        .where(Transfer.from_user_id == int(user_id), Registration.race_id == race_id))


def transferred_away(race_id):
    """(user id, bucket id, arrival) of every runner who gave a bib of this race away, for rebuilding the line."""
    return db.session.execute(
        select(Transfer.from_user_id, Registration.bucket_id, Hold.arrival)
        .join(Registration, Registration.id == Transfer.registration_id).join(Hold, Hold.id == Registration.hold_id)
        .where(Registration.race_id == race_id).order_by(Transfer.id)
    ).all()


def _holds_a_place(race_id, user_id):
    live_hold = select(Hold.id).where(Hold.race_id == race_id, Hold.user_id == user_id,
                                      Hold.status.in_(("active", "confirmed")))
    registered = select(Registration.id).where(Registration.race_id == race_id, Registration.user_id == user_id,
                                               Registration.status == "confirmed")
    return db.session.execute(select(or_(live_hold.exists(), registered.exists()))).scalar()


def _undo_claim(race_id, recipient_id, registration_id):
    db.session.rollback()
    line.end_place(race_id, recipient_id, (Kind.REGISTERED,), "left", hold_id=str(registration_id))


def transfers_of(registration_id):
    """The transfers of a registration, oldest first (the audit trail)."""
    return db.session.execute(
        select(Transfer).filter_by(registration_id=int(registration_id)).order_by(Transfer.id)
    ).scalars().all()
