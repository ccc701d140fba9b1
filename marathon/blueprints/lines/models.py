"""The durable journal of the waiting lines' joins."""
from sqlalchemy import Index, UniqueConstraint

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
