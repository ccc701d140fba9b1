"""Admission: the workers pop the heads of the lines in batches and turn them into holds in the database."""
import logging
import secrets
from datetime import datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import bindparam, exists, func, select, update

from marathon.admission.lease import Lease, LeaseLost
from marathon.blueprints.lines import engine as line
from marathon.blueprints.lines.changes import publish_changes
from marathon.blueprints.lines.keys import RaceKeys, text
from marathon.blueprints.lines.models import LineEntry, WaitlistSeat
from marathon.blueprints.lines.place import Kind, Place
from marathon.blueprints.lines.rules import admissible
from marathon.blueprints.races.catalogue import line_name
from marathon.blueprints.races.models import Course, PaceGroup, Race
from marathon.blueprints.registrations.models import Hold
from marathon.blueprints.registrations.services import holds_created
from marathon.core import metrics
from marathon.core.clock import now, to_ms
from marathon.core.faults import failpoint
from marathon.extensions import db, redis_store

log = logging.getLogger(__name__)
BATCH_MAX = 1000
LOCK_MS = 5000
TOLD_BATCH = 5000
# an admitted runner's hold clock waits for them to be told at most until they were asked to come back by (at most
# NOTICE_MAX_S away), plus LINE_IDLE_SECONDS: the grace after which a waiting runner counts as gone
NOTICE_MAX_S = 30


class Lock:
    """A Redis lock with an owner token; the database's constraints stay the real guard."""

    def __init__(self, key, ttl_ms=LOCK_MS):
        self.key, self.ttl_ms, self.token = key, ttl_ms, secrets.token_hex(8)

    def __enter__(self):
        self.held = bool(redis_store.client.set(self.key, self.token, nx=True, px=self.ttl_ms))
        return self.held

    def __exit__(self, *_exc):
        if self.held:
            line.script("UNLOCK")(keys=[self.key], args=[self.token])


def buckets_of(race_id):
    return db.session.execute(
        select(PaceGroup).filter_by(race_id=race_id).order_by(PaceGroup.id).execution_options(populate_existing=True)
    ).scalars().all()


def expire_holds(race_id):
    """Unpaid holds past their time give their place back; returns how many expired."""
    moment = now()
    expired = db.session.execute(
        update(Hold).where(Hold.race_id == race_id, Hold.status == "active", Hold.expires_at <= moment)
        .values(status="expired", closed_at=moment).returning(Hold.id, Hold.user_id, Hold.bucket_id)
    ).all()
    if not expired:
        db.session.rollback()
        return 0
    per_bucket = {}
    for _hold_id, _user_id, bucket_id in expired:
        per_bucket[bucket_id] = per_bucket.get(bucket_id, 0) + 1
    for bucket_id, count in sorted(per_bucket.items()):
        db.session.execute(update(PaceGroup).where(PaceGroup.id == bucket_id).values(held=PaceGroup.held - count))
    db.session.commit()
    for bucket_id, count in per_bucket.items():
        metrics.expired(race_id, line_name(bucket_id), count)
    for hold_id, user_id, _bucket_id in expired:
        line.end_place(race_id, user_id, (Kind.HELD,), "expired", hold_id=str(hold_id))
    publish_changes(race_id, [user_id for _hold_id, user_id, _bucket_id in expired])
    return len(expired)


def admit_bucket(race, bucket_id):
    """Admit as many runners from the head of this bucket's line as it has free places, as the bucket's one owner
    (marathon.admission.lease); returns how many (0 when another owner has the bucket, or took it meanwhile)."""
    try:
        with Lease(RaceKeys(race.id), bucket_id) as lease:
            if lease is None:
                return 0
            return _admit(race, bucket_id, lease)
    except LeaseLost:
        db.session.rollback()
        log.warning("admission of bucket %s stopped: a newer owner has it", bucket_id)
        return 0


def _admit(race, bucket_id, lease):
    """admit_bucket's work, under the lease."""
    keys = RaceKeys(race.id)
    admitted = _finish_pending(race, bucket_id, lease)
    # nobody is admitted before the lobby's runners have been placed at the head by the shuffle; a ballot's
    # places go by offers only, and so do a sold-out bucket's while its waitlist has runners (admission/offers.py)
    if race.sale_state(now()) != "open" or not race.shuffled_at or race.sale_mode == "ballot":
        return admitted
    if _waitlisted(bucket_id):
        return admitted
    idle_ms = int(_idle_seconds() * 1000)
    while True:
        bucket = db.session.get(PaceGroup, bucket_id, populate_existing=True)
        window = line.window_of(race.id, bucket.id, bucket.capacity)
        free = min(admissible(bucket.capacity, bucket.held, bucket.confirmed, window), BATCH_MAX)
        db.session.rollback()
        if free <= 0:
            break
        lease.check()
        popped = line.script("POP")(
            keys=[keys.line(bucket_id), keys.pending(bucket_id), keys.who, keys.seen, keys.joins, keys.next_ok,
                  keys.lock(bucket_id)],
            args=[free, to_ms(now()), idle_ms, bucket_id, lease.token],
        )
        if popped == [b"lost"]:
            raise LeaseLost(bucket_id)
        if len(popped) <= 1:
            break
        admitted += _finish_pending(race, bucket_id, lease)
    if admitted:
        redis_store.client.hset(keys.bucket(bucket_id), "admitted_ms", to_ms(now()))
    return admitted


def _waitlisted(bucket_id):
    """Whether a bucket sold out for its line has runners on its waitlist (they get its freed places)."""
    sold_out = db.session.execute(select(PaceGroup.sold_out_at).where(PaceGroup.id == bucket_id)).scalar()
    waiting = sold_out is not None and db.session.execute(select(exists().where(
        WaitlistSeat.bucket_id == bucket_id, WaitlistSeat.status == "waiting"))).scalar()
    db.session.rollback()
    return bool(waiting)



def _idle_seconds():
    return current_app.config.get("LINE_IDLE_SECONDS", 30)


def _finish_pending(race, bucket_id, lease):
    """Turn the bucket's popped batch into holds (creating only what is missing), then settle it in Redis; raises
    LeaseLost, committing nothing, when a newer owner has been at the bucket (its fence is past this lease's)."""
    keys = RaceKeys(race.id)
    pending = {int(user): text(value) for user, value in redis_store.client.hgetall(keys.pending(bucket_id)).items()}
    if not pending:
        return 0
    arrivals = {user: int(value.split("|")[0]) for user, value in pending.items()}
    failpoint("after_pop")
    moment = now()
    bucket = db.session.execute(
        select(PaceGroup).filter_by(id=bucket_id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one()
    fenced = db.session.execute(
        update(PaceGroup).where(PaceGroup.id == bucket_id, PaceGroup.fence <= lease.token).values(fence=lease.token)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not fenced:
        raise LeaseLost(bucket_id)
    course = db.session.get(Course, bucket.course_id)
    existing = {
        hold.user_id: hold for hold in db.session.execute(
            select(Hold).where(Hold.bucket_id == bucket_id, Hold.arrival.in_(list(arrivals.values())))
        ).scalars()
    }
    # a runner who already holds a place in this race another way (only after a restore) is not admitted twice
    elsewhere = set(db.session.execute(
        select(Hold.user_id).where(Hold.race_id == race.id, Hold.user_id.in_(list(arrivals)),
                                   Hold.status.in_(("active", "confirmed")))
    ).scalars()) - set(existing)
    # FIFO: the earliest popped (lowest score) first
    order = sorted((user for user in pending if user not in existing and user not in elsewhere),
                   key=lambda user: float(pending[user].split("|")[1]))
    take, back = order[: max(bucket.free, 0)], order[max(bucket.free, 0):]
    expiry = _untold_expiry(keys, take, moment, race.hold_seconds)
    created = []
    if take:
        created = db.session.execute(
            Hold.__table__.insert().returning(Hold.id, Hold.user_id),
            [{"race_id": race.id, "bucket_id": bucket_id, "user_id": user, "arrival": arrivals[user],
              "status": "active", "amount": course.price, "created_at": moment, "expires_at": expiry[user]}
             for user in take],
        ).all()
        holds_created.send(current_app._get_current_object(), race_id=race.id, bucket_id=bucket_id,
                           holds=[(hold_id, user, course.price) for hold_id, user in created], moment=moment)
        db.session.execute(
            update(PaceGroup).where(PaceGroup.id == bucket_id)
            .values(held=PaceGroup.held + len(take), admitted_total=PaceGroup.admitted_total + len(take))
        )
        db.session.execute(
            update(LineEntry).where(LineEntry.bucket_id == bucket_id, LineEntry.arrival.in_([arrivals[u] for u in take]))
            .values(status="admitted")
        )
    failpoint("before_commit")  # a slow commit: the lease is renewed meanwhile
    db.session.commit()
    failpoint("after_commit")
    metrics.admitted(race.id, line_name(bucket_id), len(created))
    places = {}
    for hold_id, user in created:
        places[user] = Place.held(bucket_id, arrivals[user], hold_id, to_ms(expiry[user]), course.price)
    for user, hold in existing.items():
        if hold.status == "active":
            places[user] = Place.held(bucket_id, hold.arrival, hold.id, to_ms(hold.expires_at), hold.amount)
        elif hold.status == "confirmed":
            places[user] = Place.registered(bucket_id, hold.arrival, 0)
        else:
            places[user] = Place.ended(bucket_id, hold.arrival, "expired")
    for user in elsewhere:
        places[user] = Place.ended(bucket_id, arrivals[user], "left")
    rate = _rate(keys, bucket_id, len(created))
    args = [lease.token, rate]
    for user, place in places.items():
        args += [user, place.encode()]
    args.append("--")
    args += back
    line.script("FINISH")(keys=[keys.who, keys.pending(bucket_id), keys.line(bucket_id), keys.bucket(bucket_id),
                                keys.lock(bucket_id)], args=args)
    publish_changes(race.id, places)
    return len(created)


def _untold_expiry(keys, users, moment, hold_seconds):
    """Each admitted runner's hold expiry until they are told of it: the hold's clock starts when they are first told
    (their next poll, or at once on an open event stream), so it is set for when they were asked to come back by, at
    most NOTICE_MAX_S away, plus the idle grace; an abandoned hold still comes back soon after."""
    if not users:
        return {}
    due = redis_store.client.hmget(keys.next_ok, users)
    start = to_ms(moment)
    expiry = {}
    for user, value in zip(users, due):
        wait_ms = min(max(int(value or 0) - start, 0), NOTICE_MAX_S * 1000)
        expiry[user] = moment + timedelta(milliseconds=wait_ms, seconds=_idle_seconds() + hold_seconds)
    return expiry


def shorten_told_holds(race_id):
    """Bring the database's expiry of holds whose runners have been told down to what they were told (the STATUS
    script writes those to the told stream); idempotent. Returns how many were read."""
    keys = RaceKeys(race_id)
    client = redis_store.client
    events = client.xrange(keys.told, count=TOLD_BATCH)
    if not events:
        return 0
    rows = []
    for _event_id, fields in events:
        hold_id, expires_ms = int(fields[b"h"]), int(fields[b"e"])
        rows.append({"hold": hold_id, "expires": datetime.fromtimestamp(expires_ms / 1000, timezone.utc)})
    holds = Hold.__table__
    db.session.execute(
        update(holds).where(holds.c.id == bindparam("hold"), holds.c.status == "active",
                            holds.c.expires_at > bindparam("expires")).values(expires_at=bindparam("expires")),
        rows,
    )
    db.session.commit()
    client.xdel(keys.told, *[event_id for event_id, _ in events])
    return len(events)


def _rate(keys, bucket_id, admitted):
    """Admissions per second of the bucket, smoothed; feeds the runners' ETA."""
    client = redis_store.client
    previous = client.hmget(keys.bucket(bucket_id), "rate", "rate_ms")
    rate, last_ms = float(previous[0] or 0), int(previous[1] or 0)
    moment = to_ms(now())
    elapsed = max((moment - last_ms) / 1000, 0.2) if last_ms else 1.0
    rate = 0.7 * rate + 0.3 * (admitted / elapsed)
    client.hset(keys.bucket(bucket_id), "rate_ms", moment)
    return round(rate, 3)


def sell_out_full_buckets(race_id, buckets):
    """Buckets with every place confirmed and nothing held: everyone still waiting there gets sold_out."""
    keys = RaceKeys(race_id)
    for bucket in buckets:
        if bucket.confirmed >= bucket.capacity and bucket.held == 0:
            publish_changes(race_id, line.script("SELL_OUT")(
                keys=[keys.bucket(bucket.id), keys.line(bucket.id), keys.lobby(bucket.id), keys.who, keys.joins],
                args=[bucket.id, to_ms(now())],
            ))


def used_places(race_id):
    """Per bucket id: (held, confirmed) counted from the holds themselves, for reconciliation."""
    rows = db.session.execute(
        select(Hold.bucket_id, Hold.status, func.count()).where(Hold.race_id == race_id,
                                                                Hold.status.in_(("active", "confirmed")))
        .group_by(Hold.bucket_id, Hold.status)
    ).all()
    counts = {}
    for bucket_id, status, count in rows:
        held, confirmed = counts.get(bucket_id, (0, 0))
        counts[bucket_id] = (held + count, confirmed) if status == "active" else (held, confirmed + count)
    return counts


def live_race_ids():
    """Races that still need the workers' rounds: sale not over, or holds still running."""
    moment = now()
    ids = set(db.session.execute(select(Race.id).where(Race.sale_closes_at > moment)).scalars())
    ids |= set(db.session.execute(select(Hold.race_id).where(Hold.status == "active").distinct()).scalars())
    db.session.rollback()
    return sorted(ids)


def race_of(race_id):
    return db.session.get(Race, race_id, populate_existing=True)
