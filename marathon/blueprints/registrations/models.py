"""Holds on places, registrations (a paid place with its bib) and transfers."""
from sqlalchemy import Index, UniqueConstraint, text

from marathon.core.clock import utcnow
from marathon.core.types import UTCDateTime
from marathon.extensions import db

LIVE_HOLD = text("status IN ('active', 'confirmed')")


class Hold(db.Model):
    """A place kept for one admitted runner until expires_at; confirmed when paid."""

    __tablename__ = "holds"

    id = db.Column(db.Integer, primary_key=True)
    race_id = db.Column(db.Integer, db.ForeignKey("races.id", ondelete="CASCADE"), nullable=False)
    bucket_id = db.Column(db.Integer, db.ForeignKey("pace_groups.id", ondelete="CASCADE"), nullable=False)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False)
    # the join's arrival number in its bucket: one hold per join, so a replayed admission creates nothing
    arrival = db.Column(db.Integer, nullable=False)
    # active -> confirmed (paid) | expired (unpaid in time) | released (runner let go) | cancelled (after confirm)
    status = db.Column(db.String(10), nullable=False, default="active")
    amount = db.Column(db.Integer, nullable=False)
    created_at = db.Column(UTCDateTime(), nullable=False, default=utcnow)
    expires_at = db.Column(UTCDateTime(), nullable=False)
    closed_at = db.Column(UTCDateTime())
    # how the place was won: line (admitted from the line), ballot (a draw's offer), waitlist (a freed place's offer);
    # ballot and waitlist holds carry a negative arrival derived from their entry or seat (see admission/offers.py)
    source = db.Column(db.String(10), nullable=False, default="line", server_default="line")

    __table_args__ = (
        UniqueConstraint("bucket_id", "arrival", name="uq_holds_bucket_arrival"),
        # one place per person per race, whatever the path
        Index("uq_holds_live_person", "race_id", "user_id", unique=True,
              sqlite_where=LIVE_HOLD, postgresql_where=LIVE_HOLD),
        Index("ix_holds_active_expiry", "race_id", "status", "expires_at"),
    )


CONFIRMED = text("status = 'confirmed'")


class Registration(db.Model):
    """A paid place: a named bib in the bucket's corral."""

    __tablename__ = "registrations"

    id = db.Column(db.Integer, primary_key=True)
    race_id = db.Column(db.Integer, db.ForeignKey("races.id", ondelete="CASCADE"), nullable=False)
    bucket_id = db.Column(db.Integer, db.ForeignKey("pace_groups.id", ondelete="CASCADE"), nullable=False)
    hold_id = db.Column(db.Integer, db.ForeignKey("holds.id"), nullable=False, unique=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False)
    bib = db.Column(db.Integer, nullable=False)
    # confirmed -> cancelled (by the runner, refunded) | voided (by an organiser, refunded)
    status = db.Column(db.String(10), nullable=False, default="confirmed")
    runner_name = db.Column(db.String(100), nullable=False)
    blood_type = db.Column(db.String(8))
    emergency_contact = db.Column(db.String(100))
    amount_paid = db.Column(db.Integer, nullable=False)
    created_at = db.Column(UTCDateTime(), nullable=False, default=utcnow)
    cancelled_at = db.Column(UTCDateTime())
    cancel_reason = db.Column(db.String(500))
    cancelled_by = db.Column(db.String(254))

    __table_args__ = (
        # a bib is unique within its race and never reused, even after a cancellation
        UniqueConstraint("race_id", "bib", name="uq_registrations_race_bib"),
        Index("uq_registrations_confirmed_person", "race_id", "user_id", unique=True,
              sqlite_where=CONFIRMED, postgresql_where=CONFIRMED),
    )


class Transfer(db.Model):
    """The official transfer of a registration (bib kept, name changed): the audit record."""

    __tablename__ = "transfers"

    id = db.Column(db.Integer, primary_key=True)
    registration_id = db.Column(db.Integer, db.ForeignKey("registrations.id"), nullable=False, index=True)
    from_user_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False)
    to_user_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False)
    from_name = db.Column(db.String(100), nullable=False)
    to_name = db.Column(db.String(100), nullable=False)
    at = db.Column(UTCDateTime(), nullable=False, default=utcnow)
