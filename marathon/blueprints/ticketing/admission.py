"""Admission: the workers pop the heads of the lines in batches and turn them into holds in the database."""
import hashlib
import os
import secrets
import time
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select, update

from marathon.blueprints.ticketing import line
from marathon.blueprints.ticketing.changes import publish_changes
from marathon.blueprints.ticketing.keys import RaceKeys, text
from marathon.blueprints.ticketing.models import Course, Hold, LineEntry, PaceGroup, Race
from marathon.core import metrics
from marathon.core.clock import now, to_ms
from marathon.extensions import db, redis_store

BATCH_MAX = 1000
LOCK_MS = 5000
# bucket id -> line name ('10K/5'), for metrics' labels: a bucket's course and code never change
_NAMES = {}


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


def shuffle_order(seed, line_name, arrivals):
    """The published order of a lobby: arrivals sorted by SHA-256 of 'seed:line:arrival' (hex, ascending)."""
    return sorted(arrivals, key=lambda arrival: hashlib.sha256(f"{seed}:{line_name}:{arrival}".encode()).hexdigest())


def bucket_name(bucket_id):
    """The bucket's line name, from a per-process cache (one query the first time)."""
    name = _NAMES.get(bucket_id)
    if name is None:
        course, code = db.session.execute(
            select(Course.code, PaceGroup.code).join(Course, Course.id == PaceGroup.course_id)
            .where(PaceGroup.id == bucket_id)
        ).one()
        name = _NAMES[bucket_id] = f"{course}/{code}"
    return name


def buckets_of(race_id):
    return db.session.execute(
        select(PaceGroup).filter_by(race_id=race_id).order_by(PaceGroup.id).execution_options(populate_existing=True)
    ).scalars().all()


def shuffle_lobby(race):
    """At the opening: close the lobby and put its runners at the head of their lines in the seed's order."""
    keys = RaceKeys(race.id)
    buckets = buckets_of(race.id)
    lobbies = line.script("CLOSE_LOBBY")(keys=[keys.sale, *(keys.lobby(b.id) for b in buckets)], args=[])
    for bucket, flat in zip(buckets, lobbies):
        by_arrival = {int(float(flat[i + 1])): text(flat[i]) for i in range(0, len(flat), 2)}
        if by_arrival:
            order = shuffle_order(race.shuffle_seed, f"{bucket.course.code}/{bucket.code}", by_arrival)
            line.script("PLACE_LOBBY")(
                keys=[keys.line(bucket.id), keys.lobby(bucket.id), keys.who], args=[by_arrival[a] for a in order]
            )
    race.shuffled_at = now()
    db.session.commit()


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
        metrics.expired(race_id, bucket_name(bucket_id), count)
    for hold_id, user_id, _bucket_id in expired:
        line.transition(race_id, user_id, "H", "X", "expired", hold_id=str(hold_id))
    publish_changes(race_id, [user_id for _hold_id, user_id, _bucket_id in expired])
    return len(expired)


def admit_bucket(race, bucket_id):
    """Admit as many runners from the head of this bucket's line as it has free places; returns how many."""
    keys = RaceKeys(race.id)
    with Lock(keys.lock(bucket_id)) as locked:
        if not locked:
            return 0
        admitted = _finish_pending(race, bucket_id)
        # nobody is admitted before the lobby's runners have been placed at the head by the shuffle
        if race.sale_state(now()) != "open" or not race.shuffled_at:
            return admitted
        idle_ms = int(_idle_seconds() * 1000)
        while True:
            bucket = db.session.get(PaceGroup, bucket_id, populate_existing=True)
            free = min(admissible(bucket), BATCH_MAX)
            db.session.rollback()
            if free <= 0:
                break
            popped = line.script("POP")(
                keys=[keys.line(bucket_id), keys.pending(bucket_id), keys.who, keys.seen, keys.joins],
                args=[free, to_ms(now()), idle_ms, bucket_id],
            )
            if len(popped) <= 1:
                break
            admitted += _finish_pending(race, bucket_id)
        return admitted


def admission_window(capacity):
    """How many of a bucket's places may be held (admitted, not yet paid) at once: ADMIT_WINDOW_PER_BUCKET, or all."""
    window = current_app.config.get("ADMIT_WINDOW_PER_BUCKET") or 0
    return min(window, capacity) if window > 0 else capacity


def admissible(bucket):
    """How many runners may be admitted now: free places, within the admission window."""
    return min(bucket.free, admission_window(bucket.capacity) - bucket.held)


def _failpoint(name):
    """Fault injection for the crash tests: MARATHON_FAILPOINT=name:seconds pauses here so a test can kill us."""
    spec = os.environ.get("MARATHON_FAILPOINT", "")
    if spec.startswith(name + ":"):
        time.sleep(float(spec.split(":", 1)[1]))


def _idle_seconds():
    return current_app.config.get("LINE_IDLE_SECONDS", 30)


def _finish_pending(race, bucket_id):
    """Turn the bucket's popped batch into holds (creating only what is missing), then settle it in Redis."""
    keys = RaceKeys(race.id)
    pending = {int(user): text(value) for user, value in redis_store.client.hgetall(keys.pending(bucket_id)).items()}
    if not pending:
        return 0
    arrivals = {user: int(value.split("|")[0]) for user, value in pending.items()}
    _failpoint("after_pop")
    moment = now()
    bucket = db.session.execute(
        select(PaceGroup).filter_by(id=bucket_id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one()
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
    expires_at = moment + timedelta(seconds=race.hold_seconds)
    created = []
    if take:
        created = db.session.execute(
            Hold.__table__.insert().returning(Hold.id, Hold.user_id),
            [{"race_id": race.id, "bucket_id": bucket_id, "user_id": user, "arrival": arrivals[user],
              "status": "active", "amount": course.price, "created_at": moment, "expires_at": expires_at}
             for user in take],
        ).all()
        db.session.execute(
            update(PaceGroup).where(PaceGroup.id == bucket_id)
            .values(held=PaceGroup.held + len(take), admitted_total=PaceGroup.admitted_total + len(take))
        )
        db.session.execute(
            update(LineEntry).where(LineEntry.bucket_id == bucket_id, LineEntry.arrival.in_([arrivals[u] for u in take]))
            .values(status="admitted")
        )
    db.session.commit()
    _failpoint("after_commit")
    metrics.admitted(race.id, _NAMES.setdefault(bucket_id, f"{course.code}/{bucket.code}"), len(created))
    places = {}
    for hold_id, user in created:
        places[user] = f"H|{bucket_id}|{arrivals[user]}|{hold_id}|{to_ms(expires_at)}|{course.price}"
    for user, hold in existing.items():
        if hold.status == "active":
            places[user] = f"H|{bucket_id}|{hold.arrival}|{hold.id}|{to_ms(hold.expires_at)}|{hold.amount}"
        elif hold.status == "confirmed":
            places[user] = f"R|{bucket_id}|{hold.arrival}|0"
        else:
            places[user] = f"X|{bucket_id}|{hold.arrival}|expired"
    for user in elsewhere:
        places[user] = f"X|{bucket_id}|{arrivals[user]}|left"
    rate = _rate(keys, bucket_id, len(created))
    args = [rate]
    for user, value in places.items():
        args += [user, value]
    args.append("--")
    args += back
    line.script("FINISH")(keys=[keys.who, keys.pending(bucket_id), keys.line(bucket_id), keys.bucket(bucket_id)],
                          args=args)
    publish_changes(race.id, places)
    return len(created)


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
