"""Orders (one per hold), their refunds, and the provider's webhook events as received."""
from sqlalchemy import CheckConstraint

from marathon.core.clock import utcnow
from marathon.core.types import UTCDateTime
from marathon.extensions import db

# pending -> confirming (one caller talks to the provider) -> charged (money taken) -> paid (registered)
# confirming -> pending again after a decline; charged -> void when the hold was gone (refunded);
# paid -> refunded after a cancellation; pending -> void when the hold expired before any charge
ORDER_STATES = ("pending", "confirming", "charged", "paid", "refunded", "void")


class Order(db.Model):
    __tablename__ = "orders"

    id = db.Column(db.Integer, primary_key=True)
    order_id = db.Column(db.String(64), nullable=False, unique=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False, index=True)
    # one order per hold: posting again for the same hold continues this order
    hold_id = db.Column(db.Integer, db.ForeignKey("holds.id"), nullable=False, unique=True)
    race_id = db.Column(db.Integer, db.ForeignKey("races.id", ondelete="CASCADE"), nullable=False)
    amount = db.Column(db.Integer, nullable=False)
    currency = db.Column(db.String(3), nullable=False, default="KRW")
    order_name = db.Column(db.String(200), nullable=False)
    provider = db.Column(db.String(10), nullable=False)
    status = db.Column(db.String(12), nullable=False, default="pending")
    payment_key = db.Column(db.String(200))
    # the reason of the last failed attempt, so a repeat of it gets the same answer
    failure = db.Column(db.String(40))
    provider_answer = db.Column(db.JSON)
    registration_id = db.Column(db.Integer, db.ForeignKey("registrations.id"), unique=True)
    claimed_at = db.Column(UTCDateTime())
    paid_at = db.Column(UTCDateTime())
    created_at = db.Column(UTCDateTime(), nullable=False, default=utcnow)

    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount"),
        CheckConstraint(f"status IN ({', '.join(repr(s) for s in ORDER_STATES)})", name="status"),
    )


class Refund(db.Model):
    """Money given back for an order: always the full amount, at most once per order."""

    __tablename__ = "refunds"

    id = db.Column(db.Integer, primary_key=True)
    order_pk = db.Column(db.Integer, db.ForeignKey("orders.id"), nullable=False, unique=True)
    registration_id = db.Column(db.Integer, db.ForeignKey("registrations.id"))
    amount = db.Column(db.Integer, nullable=False)
    # pending (asked, not yet confirmed by the provider) -> done
    status = db.Column(db.String(10), nullable=False, default="pending")
    reason = db.Column(db.String(500), nullable=False)
    actor = db.Column(db.String(254), nullable=False)
    provider_answer = db.Column(db.JSON)
    created_at = db.Column(UTCDateTime(), nullable=False, default=utcnow)
    done_at = db.Column(UTCDateTime())


class WebhookEvent(db.Model):
    """A provider event, kept once per event id: a repeated delivery changes nothing."""

    __tablename__ = "webhook_events"

    id = db.Column(db.Integer, primary_key=True)
    event_id = db.Column(db.String(200), nullable=False, unique=True)
    event_type = db.Column(db.String(50), nullable=False)
    order_id = db.Column(db.String(64), index=True)
    # received -> processed | ignored (nothing to do, e.g. a DONE event for a paid order)
    status = db.Column(db.String(10), nullable=False, default="received")
    outcome = db.Column(db.String(200))
    payload = db.Column(db.JSON)
    received_at = db.Column(UTCDateTime(), nullable=False, default=utcnow)
