"""Refunds: a runner's cancellation, an organiser's void, a charge that came too late, and ones the provider made."""
import logging

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from marathon.blueprints.payment.models import Order, Refund
from marathon.blueprints.payment.providers import provider
from marathon.blueprints.registrations import services as registrations
from marathon.core.clock import now
from marathon.core.errors import DomainError
from marathon.extensions import db

log = logging.getLogger(__name__)


def refund_order(order, reason, actor, registration_id=None):
    """Give the order's full amount back through the provider, at most once per order. Returns the Refund: done,
    or pending when the provider did not answer (`flask payments retry-refunds` finishes it)."""
    refund = _refund_of(order.id)
    if refund is None:
        refund = Refund(order_pk=order.id, registration_id=registration_id, amount=order.amount, reason=reason,
                        actor=actor, status="pending")
        db.session.add(refund)
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()  # another caller is refunding this order; its row is the one
            refund = _refund_of(order.id)
    if refund.status != "done":
        _send(refund, order)
    return refund


def _send(refund, order):
    try:
        answer = provider().cancel(order.payment_key, refund.amount, refund.reason, f"refund-{order.order_id}")
    except DomainError as error:
        db.session.rollback()
        log.warning("refund of order %s is pending: %s", order.order_id, error.reason)
        return
    refund.status, refund.provider_answer, refund.done_at = "done", answer, now()
    db.session.commit()


def _refund_of(order_pk):
    return db.session.execute(select(Refund).filter_by(order_pk=order_pk)).scalar_one_or_none()


def _order_of_registration(registration_id):
    return db.session.execute(select(Order).filter_by(registration_id=int(registration_id))).scalar_one_or_none()


def _refund_view(refund):
    return {"amount": refund.amount, "status": refund.status} if refund else {"amount": 0, "status": "none"}


def _refund_cancelled(registration, reason, actor, owner=None):
    """Refund the order of a registration just cancelled, and mark the order refunded. With `owner` (a runner's
    cancel), only an order that runner paid is refunded: the recipient of a transfer cancels without a refund."""
    order = _order_of_registration(registration.id)
    if order is None:  # a registration made without a payment (e.g. by an organiser): nothing to give back
        return None
    if owner is not None and order.user_id != int(owner):
        return None
    refund = refund_order(order, reason, actor, registration_id=registration.id)
    db.session.execute(update(Order).where(Order.id == order.id, Order.status == "paid").values(status="refunded"))
    db.session.commit()
    return refund


def cancel_and_refund(registration_id, user_id):
    """The runner cancels their registration: the place is freed and the full amount refunded to the card that paid
    it, when the runner paid it. The recipient of a transfer frees the place with no refund (amount 0, "none"):
    the money went from them to the sender outside our books, and refunding the sender's card would let a bib be
    sold and then cancelled for the money twice. A repeat gets the same answer. Raises NotFound (anyone else's),
    DomainError 409 refund_window_closed / not_cancellable."""
    registration = registrations.registration_of(registration_id, user_id)
    if registration.status == "cancelled":
        order = _order_of_registration(registration.id)
        if order is not None and order.user_id != int(user_id):  # someone else's order: not theirs to read
            order = None
        refund = _refund_of(order.id) if order is not None else None
        if refund is not None and refund.status != "done":
            _send(refund, order)
        return {"status": "cancelled", "refund": _refund_view(refund)}
    actor = f"runner:{int(user_id)}"
    reason = "cancelled by the runner"
    registration = registrations.cancel_registration(registration_id, actor, user_id=user_id, reason=reason)
    refund = _refund_cancelled(registration, reason, actor, owner=user_id)
    return {"status": "cancelled", "refund": _refund_view(refund)}


def refund_registration(registration_id, actor, reason):
    """An organiser voids a registration (fair play): the place is freed and the full amount refunded, whatever
    the refund window. Raises NotFound, DomainError 409 not_cancellable."""
    registration = registrations.cancel_registration(registration_id, actor, reason=reason, enforce_window=False,
                                                 status="voided")
    refund = _refund_cancelled(registration, reason, actor)
    return {"registration": registrations.registration_view(registration), "refund": _refund_view(refund)}


def record_provider_refund(order, answer):
    """The provider reports the order's payment cancelled outside our flow (e.g. from its dashboard): free the
    place and record the refund without asking for the money back again. Returns what was done."""
    if _refund_of(order.id) is not None:
        return "already refunded"
    if order.status != "paid":
        return f"order is {order.status}"
    registrations.cancel_registration(order.registration_id, "provider", reason="payment cancelled at the provider",
                                  enforce_window=False)
    db.session.add(Refund(order_pk=order.id, registration_id=order.registration_id, amount=order.amount,
                          reason="payment cancelled at the provider", actor="provider", status="done",
                          provider_answer=answer, done_at=now()))
    db.session.execute(update(Order).where(Order.id == order.id, Order.status == "paid").values(status="refunded"))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return "already refunded"
    return "refunded"


def retry_refunds():
    """Ask the provider again for every refund still pending; returns how many are done now."""
    done = 0
    for refund in db.session.execute(select(Refund).filter_by(status="pending")).scalars().all():
        _send(refund, db.session.get(Order, refund.order_pk))
        done += refund.status == "done"
    return done
