"""What runners and admins read about races: the catalogue, the race detail (cached), stats and the CSV export."""
import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from marathon.blueprints.lines import engine as line
from marathon.blueprints.races import catalogue
from marathon.blueprints.races import services as races
from marathon.blueprints.races.models import Course, free_places, line_of, PaceGroup, Race
from marathon.blueprints.races.schemas import RaceSchema
from marathon.blueprints.lines.models import BallotEntry, WaitlistSeat
from marathon.blueprints.registrations.models import Hold, Registration
from marathon.core.clock import now
from marathon.extensions import db

# how long one process serves the same race detail: thousands of polls a second cost one rebuild a second
TTL = timedelta(seconds=1)
SHUFFLE_SHOWN = ("lobby", "open", "paused", "closed")
SEED_SHOWN = ("open", "paused", "closed")
CSV_COLUMNS = ("bib", "corral", "name", "course", "pace_group", "status", "amount_paid", "source")
# a bucket's figures of the sale modes: the ballot's and the waitlist's
MODE_FIGURES = ("entries", "winners", "offers_open", "paid", "expired", "waitlist")


@dataclass
class CachedBody:
    body: bytes
    built_at: datetime
    expires_at: datetime


def _cache():
    return current_app.extensions.setdefault("race_details", {})


def forget(race_id=None):
    """Drop this process's cached detail of a race (all races without an id)."""
    if race_id is None:
        _cache().clear()
    else:
        _cache().pop(int(race_id), None)


def load_race(race_id):
    """The race with its courses and buckets, in three queries whatever its size."""
    return db.session.execute(
        select(Race).where(Race.id == race_id)
        .options(selectinload(Race.courses).selectinload(Course.pace_groups))
        .execution_options(populate_existing=True)
    ).scalar_one()


def race_summary(race, moment):
    return {"id": race.id, "slug": race.slug, "name": race.name, "date": race.date,
            "sale_opens_at": race.sale_opens_at, "sale_closes_at": race.sale_closes_at,
            "sale_state": race.sale_state(moment)}


def race_view(race, moment, figures=None):
    """The contract's race detail: courses, buckets with their live figures, and the shuffle as far as it is public."""
    figures = line.bucket_figures(race) if figures is None else figures
    view = race_summary(race, moment) | {
        "lobby_opens_at": race.lobby_opens_at, "hold_seconds": race.hold_seconds,
        "pow_difficulty": race.pow_difficulty, "refund_until": race.refund_until, "transfer_until": race.transfer_until,
        "courses": [],
    }
    for course in race.courses:
        groups = []
        for bucket in course.pace_groups:
            counts = _counts(bucket, figures.get(bucket.id))
            capacity = counts["capacity"]
            remaining = free_places(capacity, counts["held"], counts["confirmed"])
            groups.append({"code": bucket.code, "label": bucket.label, "min_pace_s": bucket.min_pace_s,
                           "max_pace_s": bucket.max_pace_s, "corral": bucket.corral, "capacity": capacity,
                           "remaining": max(remaining, 0), "waiting": counts.get("waiting", 0),
                           "sold_out": bucket.sold_out_at is not None and remaining <= 0})
        view["courses"].append({"code": course.code, "name": course.name, "distance_km": course.distance_km,
                                "price": course.price, "currency": "KRW", "pace_groups": groups})
    view["sale_mode"] = race.sale_mode
    if race.sale_mode == "ballot":
        view["commitment"] = race.ballot_commitment
        view["ballot"] = {"opens_at": race.ballot_opens_at, "closes_at": race.ballot_closes_at,
                          "offer_hours": race.offer_hours, "commitment": race.ballot_commitment}
        if race.drawn_at is not None:
            view["ballot"] |= {"seed": race.ballot_seed, "drawn_at": race.drawn_at}
    state = view["sale_state"]
    if state in SHUFFLE_SHOWN:
        view["shuffle"] = {"commitment": race.shuffle_commitment}
        if state in SEED_SHOWN:
            view["shuffle"]["seed"] = race.shuffle_seed
    return view


def _counts(bucket, mirrored):
    """The bucket's figures from its Redis mirror; its database row (already loaded) while the mirror is missing."""
    if not mirrored or (mirrored["capacity"] == 0 and bucket.capacity > 0):
        return {"capacity": bucket.capacity, "held": bucket.held, "confirmed": bucket.confirmed,
                "admitted_total": bucket.admitted_total, "waiting": (mirrored or {}).get("waiting", 0)}
    return mirrored


def _next_boundary(race, moment):
    """The next moment the calendar changes the race's state, so no cached body outlives its state."""
    later = [edge for edge in (race.lobby_opens_at, race.sale_opens_at, race.sale_closes_at) if edge > moment]
    return min(later, default=None)


def _build(race_id, moment):
    race = load_race(race_id)
    races.observe_clock(race, moment)
    body = json.dumps(RaceSchema().dump(race_view(race, moment)), separators=(",", ":")).encode()
    expires = moment + TTL
    boundary = _next_boundary(race, moment)
    db.session.rollback()
    return CachedBody(body, moment, min(expires, boundary) if boundary else expires)


def race_detail_body(ref):
    """The race detail as JSON bytes, from this process's cache when it is less than TTL old.
    Raises NotFound (race_not_found)."""
    race_id = catalogue.lookup(ref).race_id
    cache = _cache()
    moment = now()
    hit = cache.get(race_id)
    if hit and hit.built_at <= moment < hit.expires_at:
        return hit.body
    if hit and hit.built_at <= moment < hit.expires_at + TTL:
        # serve the old body to everyone else while this request rebuilds it (no stampede at each expiry)
        hit.expires_at = moment + TTL
    try:
        fresh = _build(race_id, moment)
    except Exception:
        if hit:
            hit.expires_at = moment
        raise
    cache[race_id] = fresh
    return fresh.body


def race_list():
    """Every race, soonest sale first, with its state now."""
    moment = now()
    rows = db.session.execute(select(Race).order_by(Race.sale_opens_at, Race.id)).scalars().all()
    return [race_summary(race, moment) for race in rows]


def admin_view(race):
    """The race detail, fresh from the database and Redis (for admins, after a change)."""
    forget(race.id)
    return race_view(load_race(race.id), now())


def stats(race):
    """Per bucket and in total: capacity, confirmed, held, remaining, waiting, admitted_total (from Redis)."""
    race = load_race(race.id)
    figures = line.bucket_figures(race)
    modes = sale_mode_figures(race.id)
    rows = []
    for course in race.courses:
        for bucket in course.pace_groups:
            counts = _counts(bucket, figures.get(bucket.id))
            row = {"line": line_of(course.code, bucket.code), "course": course.code, "pace_group": bucket.code,
                   "corral": bucket.corral}
            for name in ("capacity", "confirmed", "held", "waiting", "admitted_total"):
                row[name] = int(counts.get(name, 0))
            row["remaining"] = max(free_places(row["capacity"], row["held"], row["confirmed"]), 0)
            row |= modes.get(bucket.id, dict.fromkeys(MODE_FIGURES, 0))
            rows.append(row)
    names = ("capacity", "confirmed", "held", "remaining", "waiting", "admitted_total")
    totals = {name: sum(row[name] for row in rows) for name in names}
    return {"race": race.slug, "sale_state": race.sale_state(now()), "buckets": rows, "totals": totals}


def sale_mode_figures(race_id):
    """Per bucket id: ballot entries, winners (ranks within capacity), offers open, paid, expired (offers of the
    ballot and the waitlist) and runners waiting on the waitlist, from the database."""
    moment = now()
    figures = {}

    def add(bucket_id, name, count):
        figures.setdefault(bucket_id, dict.fromkeys(MODE_FIGURES, 0))[name] += count

    for bucket_id, count in db.session.execute(
            select(BallotEntry.bucket_id, func.count()).where(BallotEntry.race_id == race_id,
                                                              BallotEntry.status != "withdrawn")
            .group_by(BallotEntry.bucket_id)):
        add(bucket_id, "entries", count)
    for bucket_id, count in db.session.execute(
            select(BallotEntry.bucket_id, func.count()).join(PaceGroup, PaceGroup.id == BallotEntry.bucket_id)
            .where(BallotEntry.race_id == race_id, BallotEntry.rank <= PaceGroup.capacity)
            .group_by(BallotEntry.bucket_id)):
        add(bucket_id, "winners", count)
    for bucket_id, status, expires_at in db.session.execute(
            select(Hold.bucket_id, Hold.status, Hold.expires_at)
            .where(Hold.race_id == race_id, Hold.source.in_(("ballot", "waitlist")))):
        if status == "active" and expires_at > moment:
            add(bucket_id, "offers_open", 1)
        elif status in ("confirmed", "cancelled"):
            add(bucket_id, "paid", 1)
        else:
            add(bucket_id, "expired", 1)
    for bucket_id, count in db.session.execute(
            select(WaitlistSeat.bucket_id, func.count()).where(WaitlistSeat.race_id == race_id,
                                                               WaitlistSeat.status == "waiting")
            .group_by(WaitlistSeat.bucket_id)):
        add(bucket_id, "waitlist", count)
    return figures


def bucket_stats(bucket):
    """The bucket's row of its race's stats (capacity, confirmed, held, remaining, waiting, admitted_total)."""
    race = db.session.get(Race, bucket.race_id)
    return next(row for row in stats(race)["buckets"] if row["line"] == bucket.line)


def _cell(value):
    """A runner-written text that a spreadsheet would run as a formula is kept as text."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def registrations_csv(race):
    """Every registration of the race (cancelled ones too), by bib, as CSV text."""
    rows = db.session.execute(
        select(Registration.bib, PaceGroup.corral, Registration.runner_name, Course.code, PaceGroup.code,
               Registration.status, Registration.amount_paid, Hold.source)
        .join(PaceGroup, Registration.bucket_id == PaceGroup.id).join(Course, PaceGroup.course_id == Course.id)
        .join(Hold, Hold.id == Registration.hold_id)
        .where(Registration.race_id == race.id).order_by(Registration.bib)
    ).all()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for bib, corral, name, course, group, status, amount, source in rows:
        writer.writerow([bib, _cell(corral), _cell(name), course, _cell(group), status, amount, source])
    return out.getvalue()
