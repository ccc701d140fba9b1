"""The durable journal of the waiting lines' joins."""
from sqlalchemy import Index, text, UniqueConstraint

from marathon.core.types import UTCDateTime
from marathon.extensions import db


class LineEntry(db.Model):
    """The durable journal of a join: copied from Redis by the workers, so lines can be rebuilt from the database."""

    __tablename__ = "line_entries"

    id = db.Column(db.Integer, primary_key=True)
    race_id = db.Column(db.Integer, db.ForeignKey("races.id", ondelete="CASCADE"), nullable=False)
    bucket_id = db.Column(db.Integer, db.ForeignKey("pace_groups.id", ondelete="CASCADE"), nullable=False)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False)
    arrival = db.Column(db.Integer, nullable=False)
    lobby = db.Column(db.Boolean, nullable=False, default=False)
    joined_at = db.Column(UTCDateTime(), nullable=False)
    # waiting -> admitted | left | skipped (idle at its turn) | sold_out
    status = db.Column(db.String(10), nullable=False, default="waiting")
    # signals for the bot review
    ip = db.Column(db.String(45))
    pow_ms = db.Column(db.Integer)

    __table_args__ = (
        UniqueConstraint("bucket_id", "arrival", name="uq_line_entries_bucket_arrival"),
        Index("ix_line_entries_race_user", "race_id", "user_id"),
    )


ENTERED = text("status <> 'withdrawn'")
SEATED = text("status IN ('waiting', 'offered')")


class BallotEntry(db.Model):
    """A runner's entry in one bucket's ballot (a race in ballot mode); its offer is a Hold with source 'ballot'."""

    __tablename__ = "ballot_entries"

    id = db.Column(db.Integer, primary_key=True)
    race_id = db.Column(db.Integer, db.ForeignKey("races.id", ondelete="CASCADE"), nullable=False)
    bucket_id = db.Column(db.Integer, db.ForeignKey("pace_groups.id", ondelete="CASCADE"), nullable=False)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False)
    # entered -> withdrawn (before the draw) | drawn (ranked by the draw; offered once hold_id is set)
    status = db.Column(db.String(10), nullable=False, default="entered")
    # 1-based place in the bucket's draw order
    rank = db.Column(db.Integer)
    hold_id = db.Column(db.Integer, db.ForeignKey("holds.id"))
    entered_at = db.Column(UTCDateTime(), nullable=False)
    ip = db.Column(db.String(45))

    __table_args__ = (
        # one entry per person per race (a withdrawn one may be replaced while the ballot is open)
        Index("uq_ballot_entries_person", "race_id", "user_id", unique=True,
              sqlite_where=ENTERED, postgresql_where=ENTERED),
        Index("ix_ballot_entries_bucket_rank", "bucket_id", "rank"),
    )


class WaitlistSeat(db.Model):
    """A runner's seat on a sold-out bucket's waitlist; a freed place becomes an offer (a Hold, source 'waitlist')."""

    __tablename__ = "waitlist_seats"

    id = db.Column(db.Integer, primary_key=True)
    race_id = db.Column(db.Integer, db.ForeignKey("races.id", ondelete="CASCADE"), nullable=False)
    bucket_id = db.Column(db.Integer, db.ForeignKey("pace_groups.id", ondelete="CASCADE"), nullable=False)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False)
    # waiting -> offered (hold_id set; the hold says confirmed or expired) | left
    status = db.Column(db.String(10), nullable=False, default="waiting")
    hold_id = db.Column(db.Integer, db.ForeignKey("holds.id"))
    joined_at = db.Column(UTCDateTime(), nullable=False)
    left_at = db.Column(UTCDateTime())

    __table_args__ = (
        # one live waitlist seat per person per race
        Index("uq_waitlist_seats_person", "race_id", "user_id", unique=True,
              sqlite_where=SEATED, postgresql_where=SEATED),
        Index("ix_waitlist_seats_bucket", "bucket_id", "status", "id"),
    )
