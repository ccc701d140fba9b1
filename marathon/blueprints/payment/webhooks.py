"""Provider events: verified, kept once per event id, and applied so that repeats and late arrivals change nothing."""
import logging

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from marathon.blueprints.payment import refunds, services
from marathon.blueprints.payment.models import WebhookEvent
from marathon.blueprints.payment.providers import provider
from marathon.blueprints.payment.providers.base import BadSignature
from marathon.blueprints.registrations.services import HoldExpired
from marathon.core.errors import DomainError
from marathon.extensions import db, redis_store

log = logging.getLogger(__name__)

FINISHED = ("processed", "ignored")


def receive(body, headers):
    """Verify a webhook delivery and apply its event once; returns {status, outcome}.
    Raises BadSignature (400) when it cannot be verified."""
    event = provider().verify_event(body, headers, current_app.config["PAYMENT_WEBHOOK_SECRET"], may_ask=_may_ask)
    record = _record(event)
    if record is None:
        return {"status": "duplicate", "outcome": "this event was handled before"}
    changed, outcome = _apply(event)
    record = db.session.get(WebhookEvent, record.id)
    record.status, record.outcome = ("processed" if changed else "ignored"), outcome[:200]
    db.session.commit()
    return {"status": record.status, "outcome": record.outcome}


def _may_ask(order_id, payment_key):
    """Let the provider be asked about an unsigned event only for an order of ours (and its payment, once it has
    one), and at most once per order every WEBHOOK_ASK_INTERVAL_S: a stranger's deliveries cost us no calls.
    Raises BadSignature (400) or DomainError 429 rate_limited."""
    order = services.find_order(order_id) if order_id else None
    if order is None:
        raise BadSignature("the event is about no order of ours")
    if order.payment_key and order.status != "pending" and payment_key != order.payment_key:
        raise BadSignature("the event is about another payment of this order")
    interval = current_app.config["WEBHOOK_ASK_INTERVAL_S"]
    if not redis_store.client.set(f"m:pay:{{{order.order_id}}}:asked", 1, nx=True, ex=interval):
        raise DomainError("this order's payment was looked up a moment ago; deliver again later", "rate_limited",
                          status=429, headers={"Retry-After": interval})


def _record(event):
    """Keep the event; None when it was already handled (a replay, or the provider's retry)."""
    record = WebhookEvent(event_id=event.event_id[:200], event_type=event.event_type[:50],
                          order_id=event.order_id[:64], status="received", payload=event.payload)
    db.session.add(record)
    try:
        db.session.commit()
        return record
    except IntegrityError:
        db.session.rollback()
    record = db.session.execute(select(WebhookEvent).filter_by(event_id=event.event_id[:200])).scalar_one()
    # one that arrived before but was not finished (the process died) is applied again: applying is idempotent
    return None if record.status in FINISHED else record


def _apply(event):
    """Apply a verified event; returns (changed anything, what happened)."""
    order = services.find_order(event.order_id)
    if order is None:
        return False, "no such order"
    if order.payment_key and event.payment_key and event.payment_key != order.payment_key \
            and order.status not in ("pending",):
        return False, "the event is about another payment of this order"
    if event.status == "DONE":
        return _payment_done(order, event)
    if event.status == "PARTIAL_CANCELED":
        return _partial_cancel(order, event)
    if event.status == "CANCELED":
        outcome = refunds.record_provider_refund(order, event.payload)
        return outcome == "refunded", outcome
    return False, f"nothing to do for {event.status}"


def _partial_cancel(order, event):
    """Part of the payment was given back at the provider (e.g. a discount from its dashboard): the runner keeps the
    place, and the event (kept with its payload) is the record of the amount; only a full cancel frees the place."""
    payment = event.payload.get("data", event.payload)
    try:
        returned = int(payment.get("totalAmount") or order.amount) - int(payment["balanceAmount"])
    except (KeyError, TypeError, ValueError):
        returned = sum(int(cancel.get("cancelAmount") or 0) for cancel in payment.get("cancels") or [])
    log.warning("order %s: %s KRW of %s given back at the provider; the registration stands", order.order_id,
                returned, order.amount)
    return True, f"partially cancelled at the provider: {returned} KRW of {order.amount} given back; registration kept"


def _payment_done(order, event):
    """The provider says the money was taken: finish an order whose confirm never reached us."""
    if order.status != "pending":
        return False, f"order is {order.status}"
    if event.amount != order.amount:
        log.error("order %s: provider reports %s KRW, the order is %s", order.order_id, event.amount, order.amount)
        return False, "amount does not match the order"
    if not services.take_reported_charge(order, event.payment_key, event.payload):
        return False, "another caller is confirming this order"
    try:
        services.settle_charge(order)
    except HoldExpired:
        return True, "hold expired: refunded"
    return True, "registered"
