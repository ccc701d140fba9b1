"""Races, courses, buckets (a course's pace group) and the sale's audit trail."""
from datetime import timedelta

from sqlalchemy import CheckConstraint, UniqueConstraint

from marathon.core.clock import utcnow
from marathon.core.types import UTCDateTime
from marathon.extensions import db

SALE_STATES = ("scheduled", "lobby", "open", "paused", "closed")
COURSE_CODES = ("5K", "10K", "HALF", "FULL")


def free_places(capacity, held, confirmed):
    """Places neither held nor confirmed (below zero only while a capacity is being lowered)."""
    return capacity - held - confirmed


def line_of(course_code, group_code):
    """A bucket's public line name, e.g. '10K/5': the one place it is spelled."""
    return f"{course_code}/{group_code}"


class Race(db.Model):
    __tablename__ = "races"

    id = db.Column(db.Integer, primary_key=True)
    slug = db.Column(db.String(80), nullable=False, unique=True)
    name = db.Column(db.String(200), nullable=False)
    date = db.Column(db.Date, nullable=False)
    sale_opens_at = db.Column(UTCDateTime(), nullable=False)
    sale_closes_at = db.Column(UTCDateTime(), nullable=False)
    lobby_minutes = db.Column(db.Integer, nullable=False, default=30)
    hold_seconds = db.Column(db.Integer, nullable=False, default=600)
    pow_difficulty = db.Column(db.Integer, nullable=False, default=50000)
    refund_until = db.Column(UTCDateTime(), nullable=False)
    transfer_until = db.Column(UTCDateTime(), nullable=False)
    # what an admin decided; None follows the clock (scheduled -> lobby -> open -> closed)
    manual_state = db.Column(db.String(10))
    # the lobby shuffle: SHA-256 commitment published at the lobby, seed revealed at the opening
    shuffle_seed = db.Column(db.String(64))
    shuffle_commitment = db.Column(db.String(64))
    shuffled_at = db.Column(UTCDateTime())
    # sale modes (marathon.admission.policies): first_come (a line) or ballot (entries, a draw, offers)
    sale_mode = db.Column(db.String(12), nullable=False, default="first_come", server_default="first_come")
    ballot_opens_at = db.Column(UTCDateTime())
    ballot_closes_at = db.Column(UTCDateTime())
    offer_hours = db.Column(db.Integer)
    # the draw: SHA-256 commitment published with the race, seed revealed at the draw (marathon.admission.ballot)
    ballot_seed = db.Column(db.String(64))
    ballot_commitment = db.Column(db.String(64))
    entries_digest = db.Column(db.String(64))
    drawn_at = db.Column(UTCDateTime())
    created_at = db.Column(UTCDateTime(), nullable=False, default=utcnow)

    courses = db.relationship("Course", back_populates="race", order_by="Course.id", cascade="all, delete-orphan")

    __table_args__ = (
        CheckConstraint("sale_closes_at > sale_opens_at", name="sale_window"),
        CheckConstraint("lobby_minutes >= 0 AND hold_seconds > 0 AND pow_difficulty >= 0", name="settings"),
    )

    @property
    def lobby_opens_at(self):
        return self.sale_opens_at - timedelta(minutes=self.lobby_minutes)

    def ballot_open(self, now):
        """Whether a ballot race takes entries at `now` (its window, and not drawn yet)."""
        return (self.sale_mode == "ballot" and self.drawn_at is None and self.ballot_opens_at <= now
                and now < self.ballot_closes_at)

    def clock_state(self, now):
        """The state the calendar alone gives at `now`."""
        if now >= self.sale_closes_at:
            return "closed"
        if now >= self.sale_opens_at:
            return "open"
        if now >= self.lobby_opens_at:
            return "lobby"
        return "scheduled"

    def sale_state(self, now):
        """The state in force at `now`: an admin's close, pause or early opening wins over the calendar."""
        by_clock = self.clock_state(now)
        if self.manual_state == "closed" or by_clock == "closed":
            return "closed"
        if self.manual_state in ("paused", "open"):
            return self.manual_state
        return by_clock


class SaleEvent(db.Model):
    """One change of a race's sale state: what, who and when."""

    __tablename__ = "sale_events"

    id = db.Column(db.Integer, primary_key=True)
    race_id = db.Column(db.Integer, db.ForeignKey("races.id", ondelete="CASCADE"), nullable=False, index=True)
    from_state = db.Column(db.String(10), nullable=False)
    to_state = db.Column(db.String(10), nullable=False)
    actor = db.Column(db.String(254), nullable=False)
    note = db.Column(db.String(500))
    at = db.Column(UTCDateTime(), nullable=False, default=utcnow)


class Course(db.Model):
    __tablename__ = "courses"

    id = db.Column(db.Integer, primary_key=True)
    race_id = db.Column(db.Integer, db.ForeignKey("races.id", ondelete="CASCADE"), nullable=False)
    code = db.Column(db.String(4), nullable=False)
    name = db.Column(db.String(100), nullable=False)
    distance_km = db.Column(db.Float, nullable=False)
    price = db.Column(db.Integer, nullable=False)
    # bibs of this course are bib_start, bib_start + 1, ... below bib_end; next_bib is never handed out twice
    bib_start = db.Column(db.Integer, nullable=False)
    bib_end = db.Column(db.Integer, nullable=False)
    next_bib = db.Column(db.Integer, nullable=False)

    race = db.relationship("Race", back_populates="courses")
    pace_groups = db.relationship(
        "PaceGroup", back_populates="course", order_by="PaceGroup.min_pace_s", cascade="all, delete-orphan"
    )

    __table_args__ = (
        UniqueConstraint("race_id", "code", name="uq_courses_race_code"),
        CheckConstraint("price >= 0 AND distance_km > 0", name="values"),
        CheckConstraint("bib_start > 0 AND next_bib >= bib_start AND next_bib <= bib_end", name="bibs"),
    )


class PaceGroup(db.Model):
    """A bucket: one course's pace band, with its own capacity, corral and waiting line."""

    __tablename__ = "pace_groups"

    id = db.Column(db.Integer, primary_key=True)
    race_id = db.Column(db.Integer, db.ForeignKey("races.id", ondelete="CASCADE"), nullable=False, index=True)
    course_id = db.Column(db.Integer, db.ForeignKey("courses.id", ondelete="CASCADE"), nullable=False)
    code = db.Column(db.String(20), nullable=False)
    label = db.Column(db.String(100), nullable=False)
    min_pace_s = db.Column(db.Integer, nullable=False)
    max_pace_s = db.Column(db.Integer, nullable=False)
    corral = db.Column(db.String(20), nullable=False)
    capacity = db.Column(db.Integer, nullable=False)
    # places in use, kept in step with the holds and registrations in the same transactions
    held = db.Column(db.Integer, nullable=False, default=0)
    confirmed = db.Column(db.Integer, nullable=False, default=0)
    admitted_total = db.Column(db.Integer, nullable=False, default=0)
    # the fencing token of the last admission committed for this bucket (marathon.admission.lease)
    fence = db.Column(db.BigInteger, nullable=False, default=0, server_default="0")
    # when the bucket was first sold out for its line (never cleared): from then on a freed place goes to the
    # bucket's waitlist while it has runners (marathon.admission.offers)
    sold_out_at = db.Column(UTCDateTime())

    course = db.relationship("Course", back_populates="pace_groups")

    __table_args__ = (
        UniqueConstraint("course_id", "code", name="uq_pace_groups_course_code"),
        CheckConstraint("min_pace_s > 0 AND min_pace_s <= max_pace_s", name="pace_band"),
        # the database itself refuses to sell past capacity
        CheckConstraint("held >= 0 AND confirmed >= 0 AND held + confirmed <= capacity", name="places"),
    )

    @property
    def line(self):
        """The bucket's public name, e.g. '10K/5'."""
        return line_of(self.course.code, self.code)

    @property
    def free(self):
        return free_places(self.capacity, self.held, self.confirmed)
