"""Orders stuck half-way: a process died after claiming an order (confirming) or after the charge (charged)."""
import logging

from marathon.blueprints.payment import services
from marathon.blueprints.payment.providers.base import PaymentDeclined, PaymentNotFound
from marathon.blueprints.registrations.services import HoldExpired
from marathon.core.errors import DomainError
from marathon.extensions import db

log = logging.getLogger(__name__)


def sweep_stuck_orders(older_than=None):
    """Finish every order claimed more than older_than seconds ago (default PAYMENT_CLAIM_STALE_SECONDS) and never
    finished: a charged one is registered, or refunded when its hold is gone; a confirming one is confirmed again
    with the same idempotency key (the provider answers as the first time: no second charge), or given back to its
    runner when declined. Returns counts: registered, refunded, released, failed (left for the next sweep)."""
    from flask import current_app

    if older_than is None:
        older_than = current_app.config["PAYMENT_CLAIM_STALE_SECONDS"]
    counts = {"registered": 0, "refunded": 0, "released": 0, "failed": 0}
    for order_pk in services.stuck_orders(older_than):
        order = services.take_stuck_order(order_pk, older_than)
        if order is None:
            continue  # a confirm or the webhook finished it meanwhile
        counts[_finish(order)] += 1
    return counts


def sweep_job():
    """The workers' periodic sweep (an RQ job the pacemaker enqueues): never hands a failed transaction on."""
    try:
        counts = sweep_stuck_orders()
        if any(counts.values()):
            log.warning("stuck orders swept: %s", counts)
    finally:
        db.session.remove()


def _finish(order):
    order_id = order.order_id
    try:
        services.finish_claimed(order)
    except HoldExpired:
        return "refunded"
    except (PaymentDeclined, PaymentNotFound):
        return "released"  # back to pending: the runner may pay again while the hold lasts
    except DomainError as error:
        log.warning("order %s still stuck: %s", order_id, error.reason)
        db.session.rollback()
        return "failed"
    except Exception:  # noqa: BLE001  one order's fault must not stop the sweep of the others
        log.exception("order %s still stuck", order_id)
        db.session.rollback()
        return "failed"
    return "registered"
