"""Orders: one per hold, priced by the server, charged with the provider once and registered once."""
import hashlib
import logging
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from marathon.blueprints.payment import refunds
from marathon.blueprints.payment.models import Order
from marathon.blueprints.payment.providers import provider
from marathon.blueprints.payment.providers.base import PaymentDeclined
from marathon.blueprints.registrations import services as registrations
from marathon.blueprints.registrations.services import HoldExpired
from marathon.core.clock import now, to_ms
from marathon.core.errors import DomainError, NotFound
from marathon.core.faults import failpoint
from marathon.core.ids import record_id
from marathon.extensions import db, redis_store

log = logging.getLogger(__name__)

IN_FLIGHT = ("confirming", "charged")
REGISTRATION_FIELDS = ("id", "bib", "course", "pace_group", "corral")


def open_orders(_sender, race_id, bucket_id, holds, moment, **_extra):
    """Each new hold's order, made inside the admission's transaction (ticketing's holds_created signal), so that the
    runner's POST /payments is one indexed read; no commit here."""
    if not holds:
        return
    name, provider_name = _order_name_of(bucket_id), provider().name
    db.session.execute(Order.__table__.insert(), [
        {"order_id": new_order_id(), "user_id": user_id, "hold_id": hold_id, "race_id": race_id, "amount": amount,
         "currency": "KRW", "order_name": name, "provider": provider_name, "status": "pending", "created_at": moment}
        for hold_id, user_id, amount in holds
    ])


def new_order_id():
    return "ord_" + secrets.token_urlsafe(18)


def create_order(hold_id, user_id):
    """The caller's order for their hold: the one opened at admission, a new one, or the one already made for it.
    Raises NotFound (hold_not_found) or HoldExpired."""
    opened = _opened_order(hold_id, user_id)
    if opened is not None:
        return opened
    hold = registrations.hold_for_payment(hold_id, user_id)
    existing = _order_of_hold(hold.id)
    if existing is not None:
        if existing.user_id != int(user_id):  # a transferred bib's hold moved to its recipient; the order did not
            raise NotFound("no such hold of yours", "hold_not_found")
        return existing
    order = Order(
        order_id=new_order_id(), user_id=hold.user_id, hold_id=hold.id, race_id=hold.race_id,
        amount=hold.amount, currency="KRW", order_name=_order_name_of(hold.bucket_id), provider=provider().name,
        status="pending",
    )
    db.session.add(order)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()  # a concurrent post for the same hold made it first
        order = _order_of_hold(hold.id)
        if order.user_id != int(user_id):
            raise NotFound("no such hold of yours", "hold_not_found") from None
    return order


def _order_name_of(bucket_id):
    return registrations.bucket_title(bucket_id)[:100]


def _opened_order(hold_id, user_id):
    """The caller's pending order of a live hold, read in one query; None for anything else (the full path decides)."""
    if record_id(hold_id) is None:
        return None
    found = db.session.execute(
        select(Order).where(Order.hold_id == int(hold_id), Order.user_id == int(user_id), Order.status == "pending",
                            registrations.hold_is_live(Order.hold_id, now()))
    ).scalar_one_or_none()
    return found


def _order_of_hold(hold_id):
    return db.session.execute(select(Order).filter_by(hold_id=int(hold_id))).scalar_one_or_none()


def order_of(order_id, user_id):
    """The caller's own order; raises NotFound (order_not_found) for anyone else's."""
    order = db.session.execute(select(Order).filter_by(order_id=str(order_id))).scalar_one_or_none()
    if order is None or order.user_id != int(user_id):
        raise NotFound("no such order of yours", "order_not_found")
    return order


def order_view(order):
    """The contract's fields of an order, with what the payment widget needs."""
    return {"order_id": order.order_id, "amount": order.amount, "currency": order.currency,
            "provider": order.provider, "status": order.status, "checkout": provider().checkout(order)}


def confirm_order(order_id, user_id, payment_key, amount, blood_type=None, emergency_contact=None):
    """Charge the order once and register the runner once; a repeat gets the same answer.
    Raises NotFound, DomainError 409 amount_mismatch / payment_in_progress / order_refunded, PaymentDeclined,
    PaymentNotFound, ProviderUnavailable, HoldExpired (after refunding a charge that came too late)."""
    answer = _quick_confirm(order_id, user_id, payment_key, amount, blood_type, emergency_contact)
    if answer is not None:
        return answer
    order = order_of(order_id, user_id)
    if int(amount) != order.amount:
        raise DomainError(f"the amount of this order is {order.amount} KRW", "amount_mismatch",
                          errors={"json": {"amount": [f"must be {order.amount}"]}})
    for _attempt in range(3):
        answer = _final_answer(order, payment_key)
        if answer is not None:
            return answer
        if _claim(order, payment_key):
            return _charge_and_register(order, blood_type, emergency_contact)
        _wait_for_outcome(order)
        order = order_of(order_id, user_id)
    raise DomainError("this payment is being confirmed; ask again shortly", "payment_in_progress",
                      headers={"Retry-After": 1})


def _quick_confirm(order_id, user_id, payment_key, amount, blood_type, emergency_contact):
    """The common case in four statements and no ORM object: a pending order of a live hold is claimed (committed, so
    the provider is called outside any lock), charged, then registered and marked paid in one commit. Returns the
    answer, or None for the full path (any other state, a repeat, SQLite) before anything was claimed."""
    if db.engine.dialect.name != "postgresql":
        return None
    moment = now()
    orders = Order.__table__
    claimed = db.session.execute(
        update(orders).where(orders.c.order_id == str(order_id), orders.c.user_id == int(user_id),
                             orders.c.status == "pending", orders.c.amount == int(amount), orders.c.failure.is_(None),
                             registrations.hold_is_live(orders.c.hold_id, moment))
        .values(status="confirming", payment_key=payment_key, claimed_at=moment)
        .returning(orders.c.id, orders.c.hold_id)
    ).one_or_none()
    if claimed is None:
        db.session.rollback()
        return None
    db.session.commit()
    order_pk, hold_id = claimed
    claim = f"m:pay:{{{order_id}}}:{to_ms(moment)}"
    try:
        charge = provider().confirm(payment_key, str(order_id), int(amount), _confirm_key(order_id, payment_key))
    except Exception as error:
        _release(db.session.get(Order, order_pk), getattr(error, "reason", None) or "error")
        raise
    failpoint("after_charge")  # charged, nothing recorded yet: the crash the sweeper must finish

    try:
        place = registrations.register_hold(hold_id, user_id, blood_type, emergency_contact)
        if place is not None:
            db.session.execute(update(orders).where(orders.c.id == order_pk).values(
                status="paid", registration_id=place["id"], paid_at=now(), provider_answer=charge.answer))
            db.session.commit()
    except Exception:
        db.session.rollback()
        place = None
    if place is None:  # the hold ran out meanwhile (or no bib left): the full path refunds and answers
        db.session.execute(update(orders).where(orders.c.id == order_pk)
                           .values(status="charged", provider_answer=charge.answer))
        db.session.commit()
        return settle_charge(db.session.get(Order, order_pk), blood_type, emergency_contact)
    _wake(claim)
    registrations.registered(place, user_id)
    return {"order_id": str(order_id), "status": "paid",
            "registration": {name: place[name] for name in REGISTRATION_FIELDS}}


def _final_answer(order, payment_key):
    """The answer an order in this state gives without a new attempt, or None; raises the final errors."""
    if order.status == "paid":
        return confirmation(order)
    if order.status == "void":
        raise HoldExpired("the hold expired before the payment arrived; any charge has been refunded")
    if order.status == "refunded":
        raise DomainError("this order was refunded", "order_refunded")
    if order.status == "pending" and order.failure == "payment_declined" and order.payment_key == payment_key:
        raise PaymentDeclined("this payment was declined; pay again with another card")
    if order.status == "pending":
        try:
            registrations.hold_for_payment(order.hold_id, order.user_id)
        except HoldExpired:
            # nothing was charged: the order ends here, and no money is taken for a place that is gone
            db.session.rollback()
            db.session.execute(update(Order).where(Order.id == order.id, Order.status == "pending")
                               .values(status="void", failure="hold_expired"))
            db.session.commit()
            raise
    return None


def _claim(order, payment_key):
    """Make this caller the only one that talks to the provider about the order; returns whether it is.
    A conditional UPDATE: on PostgreSQL it takes the row's lock, on SQLite the database's write lock, and
    concurrent callers see the claim once it is committed; no lock is held during the provider call."""
    moment = now()
    # a key that was just declined is not tried again, even by a caller that read the order before the decline
    not_declined = or_(Order.failure.is_(None), Order.failure != "payment_declined", Order.payment_key.is_(None),
                       Order.payment_key != payment_key)
    taken = db.session.execute(
        update(Order).where(Order.id == order.id, Order.status == "pending", not_declined)
        .values(status="confirming", payment_key=payment_key, failure=None, claimed_at=moment)
    ).rowcount
    if not taken:
        # a claim whose holder died keeps the payment key it used: repeating with it is safe (idempotency key)
        stale = moment - timedelta(seconds=current_app.config["PAYMENT_CLAIM_STALE_SECONDS"])
        taken = db.session.execute(
            update(Order).where(Order.id == order.id, Order.status.in_(IN_FLIGHT), Order.claimed_at < stale)
            .values(claimed_at=moment)
        ).rowcount
    db.session.commit()
    db.session.refresh(order)
    return bool(taken)


def stuck_orders(older_than):
    """Ids of orders claimed (confirming or charged) longer than older_than seconds ago: their holder died."""
    stale = now() - timedelta(seconds=older_than)
    return db.session.execute(select(Order.id).where(Order.status.in_(IN_FLIGHT), Order.claimed_at < stale)
                              .order_by(Order.id)).scalars().all()


def take_stuck_order(order_pk, older_than):
    """Claim a stuck order for the caller (the sweeper) as a stale claim is taken; returns it, or None when another
    caller has moved it meanwhile."""
    stale = now() - timedelta(seconds=older_than)
    taken = db.session.execute(
        update(Order).where(Order.id == order_pk, Order.status.in_(IN_FLIGHT), Order.claimed_at < stale)
        .values(claimed_at=now())
    ).rowcount
    db.session.commit()
    return db.session.get(Order, order_pk) if taken else None


def finish_claimed(order):
    """Finish an order whose claim the caller holds: confirm again with the same idempotency key if it is still
    confirming, then register (or refund when the hold is gone). Raises what confirm_order raises."""
    return _charge_and_register(order, None, None)


def _charge_and_register(order, blood_type, emergency_contact):
    if order.status == "confirming":
        try:
            charge = provider().confirm(order.payment_key, order.order_id, order.amount, confirm_key(order))
        except Exception as error:
            _release(order, getattr(error, "reason", None) or "error")
            raise
        failpoint("after_charge")  # charged, nothing recorded yet: the crash the sweeper must finish
        order.status, order.provider_answer = "charged", charge.answer
        db.session.commit()
    return settle_charge(order, blood_type, emergency_contact)


def settle_charge(order, blood_type=None, emergency_contact=None):
    """Turn a charged order into a registration, or refund it when the hold is gone. Raises HoldExpired."""
    claim = _claim_key(order)
    try:
        registration = registrations.confirm_hold(order.hold_id, order.user_id, blood_type, emergency_contact)
    except HoldExpired:
        db.session.rollback()
        refunds.refund_order(order, "the hold expired before the payment arrived", actor="system")
        db.session.execute(update(Order).where(Order.id == order.id).values(status="void", failure="hold_expired"))
        db.session.commit()
        _wake(claim)
        log.warning("order %s was paid after its hold expired; refunded", order.order_id)
        raise HoldExpired("the hold expired before the payment arrived; the charge has been refunded") from None
    except Exception:
        _wake(claim)  # the order stays charged; a later confirm or the webhook finishes it
        raise
    order_pk, public_id, user_id, registration_id = order.id, order.order_id, order.user_id, registration.id
    db.session.execute(update(Order).where(Order.id == order_pk)
                       .values(status="paid", registration_id=registration_id, paid_at=now(), failure=None))
    db.session.commit()
    _wake(claim)
    return _confirmation(public_id, registration_id, user_id)


def _release(order, reason):
    """Give the order back for another attempt (declined, or the provider failed)."""
    claim = _claim_key(order)
    db.session.rollback()
    db.session.execute(update(Order).where(Order.id == order.id, Order.status == "confirming")
                       .values(status="pending", failure=reason))
    db.session.commit()
    _wake(claim)


def confirmation(order):
    """The answer of a paid order: its registration's contract fields."""
    return _confirmation(order.order_id, order.registration_id, order.user_id)


def _confirmation(order_id, registration_id, user_id):
    view = registrations.registration_view(registrations.registration_of(registration_id, user_id))
    return {"order_id": order_id, "status": "paid", "registration": {name: view[name] for name in REGISTRATION_FIELDS}}


def confirm_key(order):
    """The provider's Idempotency-Key of a confirm: one per order and payment key, so a repeat is the same request."""
    return _confirm_key(order.order_id, order.payment_key)


def _confirm_key(order_id, payment_key):
    digest = hashlib.sha256(f"{order_id}|{payment_key}".encode()).hexdigest()[:32]
    return f"confirm-{order_id}-{digest}"


def _claim_key(order):
    return f"m:pay:{{{order.order_id}}}:{to_ms(order.claimed_at) if order.claimed_at else 0}"


def _wake(key):
    """Wake every caller waiting on this claim (they move the element round the list, so none consumes it)."""
    pipe = redis_store.client.pipeline()
    pipe.rpush(key, 1)
    pipe.expire(key, 120)
    pipe.execute()


def _wait_for_outcome(order):
    """Block (no polling) until the caller holding the claim has finished, or the wait runs out."""
    if order.status not in IN_FLIGHT:
        return
    key = _claim_key(order)
    db.session.rollback()  # end this read: the next one sees the holder's commit
    redis_store.client.blmove(key, key, current_app.config["PAYMENT_CONFIRM_WAIT_SECONDS"], "RIGHT", "LEFT")


def find_order(order_id):
    """An order by its public id, whoever's it is (for provider events), or None."""
    return db.session.execute(select(Order).filter_by(order_id=str(order_id))).scalar_one_or_none()


def take_reported_charge(order, payment_key, answer):
    """Record a charge the provider reports (a webhook) for an order nobody is confirming; returns whether taken."""
    taken = db.session.execute(
        update(Order).where(Order.id == order.id, Order.status == "pending")
        .values(status="charged", payment_key=payment_key, provider_answer=answer, failure=None, claimed_at=now())
    ).rowcount
    db.session.commit()
    db.session.refresh(order)
    return bool(taken)
