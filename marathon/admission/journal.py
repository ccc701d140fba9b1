"""The durable side of the lines: joins copied from Redis into the database, and Redis rebuilt from the database."""
from datetime import datetime, timezone

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from marathon.admission.batches import buckets_of, used_places
from marathon.admission.shuffle import shuffle_order
from marathon.blueprints.lines import engine as line
from marathon.blueprints.lines.keys import RaceKeys, text
from marathon.blueprints.lines.models import LineEntry
from marathon.blueprints.lines.place import Place
from marathon.blueprints.races.models import PaceGroup
from marathon.blueprints.registrations.models import Hold, Registration
from marathon.blueprints.registrations.transfers import transferred_away
from marathon.core.clock import to_ms
from marathon.extensions import db, redis_store

FLUSH_BATCH = 5000


def flush_joins(race_id):
    """Copy the joins and leaves waiting in the race's stream into line_entries; idempotent. Returns the count."""
    keys = RaceKeys(race_id)
    client = redis_store.client
    events = client.xrange(keys.joins, count=FLUSH_BATCH)
    if not events:
        return 0
    joins, ends = [], {}
    for _event_id, fields in events:
        event = {text(k): text(v) for k, v in fields.items()}
        if event["t"] == "j":
            joins.append({
                "race_id": race_id, "bucket_id": int(event["b"]), "user_id": int(event["u"]),
                "arrival": int(event["a"]), "lobby": event["l"] == "1", "status": "waiting",
                "joined_at": datetime.fromtimestamp(int(event["ms"]) / 1000, timezone.utc),
                "ip": event.get("ip") or None, "pow_ms": int(event["pow"]) if event.get("pow") else None,
            })
        else:
            ends.setdefault((int(event["b"]), event["s"]), []).append(int(event["a"]))
    if joins:
        insert = pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
        statement = insert(LineEntry).on_conflict_do_nothing(index_elements=["bucket_id", "arrival"])
        db.session.execute(statement, joins)
    for (bucket_id, status), arrivals in ends.items():
        db.session.execute(
            update(LineEntry).where(LineEntry.bucket_id == bucket_id, LineEntry.arrival.in_(arrivals),
                                    LineEntry.status == "waiting").values(status=status)
        )
    db.session.commit()
    client.xdel(keys.joins, *[event_id for event_id, _ in events])
    return len(events)


def reconcile(race):
    """Rebuild the race's Redis state from the database, keeping what Redis has that is newer.
    Returns the differences found, one line each."""
    flush_joins(race.id)
    keys = RaceKeys(race.id)
    client = redis_store.client
    differences = []
    buckets = buckets_of(race.id)
    counted = used_places(race.id)
    for bucket in buckets:
        held, confirmed = counted.get(bucket.id, (0, 0))
        if (bucket.held, bucket.confirmed) != (held, confirmed):
            differences.append(f"{bucket.line}: database counters held={bucket.held} confirmed={bucket.confirmed}, "
                               f"holds say held={held} confirmed={confirmed} (fixed)")
            db.session.execute(update(PaceGroup).where(PaceGroup.id == bucket.id).values(held=held, confirmed=confirmed))
    db.session.commit()
    buckets = buckets_of(race.id)
    before = line.bucket_figures(race)
    who = {int(k): Place.decode(v) for k, v in client.hgetall(keys.who).items()}
    places = _places_from_database(race.id)
    with client.pipeline() as pipe:
        for user, place in places.items():
            had = who.get(user)
            if had is None or had.kind is not place.kind:
                differences.append(f"runner {user}: redis had {had.encode() if had else 'nothing'}, "
                                   f"database says {place.encode()}")
                pipe.hset(keys.who, user, place.encode())
        max_arrival = _max_arrivals(race.id)
        for bucket in buckets:
            current = int(client.hget(keys.bucket(bucket.id), "seq") or 0)
            if current < max_arrival.get(bucket.id, 0):
                differences.append(f"{bucket.line}: arrival counter {current} raised to {max_arrival[bucket.id]}")
                pipe.hset(keys.bucket(bucket.id), "seq", max_arrival[bucket.id])
        waiting = _waiting_from_database(race)
        for bucket_id, entries in waiting.items():
            for user, arrival, score, in_lobby in entries:
                if user in who or user in places:
                    continue
                differences.append(f"runner {user}: missing from line {bucket_id}, put back at arrival {arrival}")
                target = keys.lobby(bucket_id) if in_lobby else keys.line(bucket_id)
                pipe.zadd(target, {user: score}, nx=True)
                pipe.hset(keys.who, user, Place.waiting(bucket_id, arrival).encode())
                pipe.hsetnx(keys.seen, user, to_ms(datetime.now(timezone.utc)))
        pipe.execute()
    # the sale hash last: until it is there, join and status answer 503 line_unavailable rather than a
    # runner whose place is not restored yet hearing 404 not_in_line (and joining again at the back)
    line.publish_race(race)
    after = line.bucket_figures(race)
    for bucket in buckets:
        if before[bucket.id] != after[bucket.id]:
            differences.append(f"{bucket.line}: redis figures {before[bucket.id]} -> {after[bucket.id]}")
    return differences


def _places_from_database(race_id):
    """Runners with a live hold or a registration, as their Redis place."""
    places = {}
    for hold in db.session.execute(select(Hold).filter_by(race_id=race_id, status="active")).scalars():
        places[hold.user_id] = Place.held(hold.bucket_id, hold.arrival, hold.id, to_ms(hold.expires_at), hold.amount)
    rows = db.session.execute(
        select(Registration.user_id, Registration.bucket_id, Registration.id, Hold.arrival)
        .join(Hold, Hold.id == Registration.hold_id)
        .where(Registration.race_id == race_id, Registration.status == "confirmed")
    ).all()
    for user_id, bucket_id, registration_id, arrival in rows:
        places[user_id] = Place.registered(bucket_id, arrival, registration_id)
    for user_id, bucket_id, arrival in transferred_away(race_id):  # the join refuses them (transferred_away)
        places.setdefault(user_id, Place.ended(bucket_id, arrival, "transferred"))
    return places


def _max_arrivals(race_id):
    result = {}
    for model in (LineEntry, Hold):
        for bucket_id, highest in db.session.execute(
            select(model.bucket_id, func.max(model.arrival)).where(model.race_id == race_id).group_by(model.bucket_id)
        ).all():
            result[bucket_id] = max(result.get(bucket_id, 0), highest or 0)
    return result


def _waiting_from_database(race):
    """Journaled joins still waiting (no hold made from them), in line order with their scores."""
    held_arrivals = set(db.session.execute(
        select(Hold.bucket_id, Hold.arrival).where(Hold.race_id == race.id)
    ).all())
    entries = db.session.execute(
        select(LineEntry).filter_by(race_id=race.id, status="waiting").order_by(LineEntry.bucket_id, LineEntry.arrival)
    ).scalars().all()
    waiting = {}
    lobby = {}
    for entry in entries:
        if (entry.bucket_id, entry.arrival) in held_arrivals:
            continue
        if entry.lobby and race.shuffled_at:
            lobby.setdefault(entry.bucket_id, []).append(entry)
        else:
            in_lobby = entry.lobby and not race.shuffled_at
            waiting.setdefault(entry.bucket_id, []).append(
                (entry.user_id, entry.arrival, float(entry.arrival), in_lobby))
    names = {bucket.id: bucket.line for bucket in buckets_of(race.id)}
    for bucket_id, shuffled in lobby.items():
        by_arrival = {entry.arrival: entry.user_id for entry in shuffled}
        order = shuffle_order(race.shuffle_seed, names[bucket_id], by_arrival)
        placed = [(by_arrival[a], a, float(i - len(order)), False) for i, a in enumerate(order)]
        waiting[bucket_id] = placed + waiting.get(bucket_id, [])
    return waiting


def race_joins(race_id):
    """Every journaled join of the race (the journal flushed first), as dicts, in order of joining."""
    flush_joins(race_id)
    rows = db.session.execute(
        select(LineEntry).filter_by(race_id=race_id).order_by(LineEntry.joined_at, LineEntry.id)
    ).scalars().all()
    return [{"user_id": e.user_id, "bucket_id": e.bucket_id, "arrival": e.arrival, "lobby": e.lobby,
             "joined_at": e.joined_at, "ip": e.ip, "pow_ms": e.pow_ms, "status": e.status} for e in rows]
