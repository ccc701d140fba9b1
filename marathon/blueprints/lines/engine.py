"""The waiting-line engine's web side: join, status and leave in one Redis round trip each, and the sale's mirrors."""
from datetime import datetime, timezone

from flask import current_app

from marathon.blueprints.lines import scripts as lua
from marathon.blueprints.lines.changes import publish_changes
from marathon.blueprints.lines.keys import RaceKeys, text
from marathon.blueprints.lines.place import Kind, kinds, Place
from marathon.blueprints.lines.rules import opening_window
from marathon.blueprints.races.models import line_of
from marathon.core.clock import now, to_ms
from marathon.core.errors import DomainError
from marathon.core.limits import lean_limit
from marathon.core.security import REVOKED_PREFIX
from marathon.extensions import redis_store

# a client may ask for its status this fraction of retry_after_s early before it gets 429
EARLY_FRACTION = 0.8
CODES = {
    "sale_not_open": 403, "already_in_line": 409, "already_registered": 409, "sold_out": 409,
    "transferred_away": 409,
    "token_revoked": 401, "too_soon": 429, "unknown_bucket": 503, "bad_pow": 400, "rate_limited": 429,
}
MESSAGES = {
    "sale_not_open": "the sale of this race is not open",
    "already_in_line": "you are already in a line of this race, or hold a place in it",
    "already_registered": "you are already registered for this race",
    "sold_out": "every place of this course and pace group is taken",
    "transferred_away": "you transferred your bib of this race; you cannot queue for it again",
    "token_revoked": "the token has been revoked",
    "too_soon": "asked sooner than retry_after_s said",
    "rate_limited": "too many requests from this address; try again later",
    "unknown_bucket": "the line is being restored; try again shortly",
    "bad_pow": "this proof of work has already been used for a join; ask for a new challenge",
}
# what LEAVE answers besides the kind of place the runner had
LEFT, BUSY, NONE = "left", "busy", "none"
# what a payment after its hold ran out counts as in the pacing's samples: later than any hold lasts
LATE_PAYMENT_MS = 10**9
ENDED = {"expired": "expired", "skipped": "expired", "sold_out": "sold_out", "left": "left", "cancelled": "left",
         "voided": "left"}


def _scripts():
    scripts = current_app.extensions.get("line_scripts")
    if scripts is None:
        client = redis_store.client
        scripts = {name: client.register_script(getattr(lua, name)) for name in (
            "JOIN", "STATUS", "LEAVE", "POP", "FINISH", "TRANSITION", "CLOSE_LOBBY", "PLACE_LOBBY", "UNLOCK", "RENEW",
            "SELL_OUT", "CLAIM")}
        current_app.extensions["line_scripts"] = scripts
    return scripts


def script(name):
    return _scripts()[name]


def _refuse(reason, detail=None, state=None):
    headers = {}
    message = MESSAGES.get(reason, reason)
    if reason == "too_soon":
        wait_s = max(1, -(-int(detail) // 1000))
        # the same headers as flask-limiter's: one status request per retry_after_s
        headers.update({"Retry-After": wait_s, "X-RateLimit-Limit": 1, "X-RateLimit-Remaining": 0,
                        "X-RateLimit-Reset": int(now().timestamp()) + wait_s})
    if reason == "unknown_bucket":
        headers["Retry-After"] = 2
    if reason == "rate_limited":  # flask-limiter's headers, as the other limits send them
        left_ms, limit = detail
        wait_s = max(1, -(-int(left_ms) // 1000))
        headers.update({"Retry-After": wait_s, "X-RateLimit-Limit": int(limit), "X-RateLimit-Remaining": 0,
                        "X-RateLimit-Reset": int(now().timestamp()) + wait_s})
    if state:
        message = f"{message} (it is {state})"
    raise DomainError(message, "line_unavailable" if reason == "unknown_bucket" else reason,
                      status=CODES.get(reason, 409), headers=headers)


def join(race_id, bucket_id, user_id, jti, ip="", proof=None):
    """Put the runner at the back of the bucket's line (or in its lobby), spending the proof of work if one is given,
    and counting the address against RATELIMIT_JOIN_PER_IP; raises DomainError with the reason."""
    keys = RaceKeys(race_id)
    moment = to_ms(now())
    limit, window = lean_limit("RATELIMIT_JOIN_PER_IP")
    join_keys = [keys.sale, keys.who, keys.bucket(bucket_id), keys.line(bucket_id), keys.lobby(bucket_id), keys.seen,
                 keys.next_ok, keys.joins, REVOKED_PREFIX + jti, keys.address("join", ip)]
    args = [user_id, bucket_id, moment, ip or "", proof.solve_ms if proof else "", EARLY_FRACTION, limit, window]
    if proof is not None:
        join_keys.append(proof.spent_key)
        args.append(proof.ttl_ms)
    result = redis_store.run_script(script("JOIN"), keys=join_keys, args=args)
    if text(result[0]) == "err":
        reason = text(result[1])
        _refuse(reason, detail=(result[2], result[3]) if reason == "rate_limited" else None,
                state=text(result[2]) if len(result) > 2 and reason == "sale_not_open" else None)
    _, arrival, ahead, retry, in_lobby, _state = result
    return {"status": "waiting", "arrival": int(arrival), "position": int(ahead) + 1, "ahead": int(ahead),
            "retry_after_s": int(retry), "lobby": bool(in_lobby)}


def status(race_id, user_id, jti, enforce_interval=True, arrived_ms=None, poll=True, ip=None):
    """The runner's place in the race: waiting, admitted (with the hold), confirmed or ended; None if none.
    Telling an admitted runner starts their hold's clock. `arrived_ms` is when the request reached the server (a poll
    that waited inside it still counts from then); `poll` False for a pushed stream's refresh, which marks the runner present without counting a poll or
    moving its interval; a poll
    from an address `ip` counts against RATELIMIT_STATUS_PER_IP."""
    keys = RaceKeys(race_id)
    answered = moment = to_ms(now())
    if arrived_ms is not None:
        moment = min(moment, int(arrived_ms))
    limit, window = lean_limit("RATELIMIT_STATUS_PER_IP") if ip is not None else (0, 1)
    result = redis_store.run_script(
        script("STATUS"),
        keys=[keys.who, keys.seen, keys.next_ok, REVOKED_PREFIX + jti, keys.sale, keys.cadence, keys.told,
              keys.address("status", ip)],
        args=[user_id, moment, keys.prefix, EARLY_FRACTION, 1 if enforce_interval else 0, 1 if poll else 0,
              limit, window, answered],
    )
    kind = text(result[0])
    if kind == "none":
        return None
    if kind == "err":
        reason = text(result[1])
        _refuse(reason, (result[2], result[3]) if reason == "rate_limited" else result[2] if len(result) > 2 else None)
    kind = Kind(kind)
    view = {"line": text(result[1]), "arrival": int(result[2]), "position": None, "ahead": None, "eta_s": None,
            "hold": None}
    if kind is Kind.WAITING:
        ahead, retry, eta, in_lobby = (int(value) for value in result[3:7])
        view.update(status="waiting", position=ahead + 1, ahead=ahead, retry_after_s=retry,
                    eta_s=None if eta < 0 else eta, lobby=bool(in_lobby))
    elif kind is Kind.HELD:
        hold_id, expires_ms, amount, retry = int(result[3]), int(result[4]), int(result[5]), int(result[6])
        expired = expires_ms <= to_ms(now())
        view.update(status="expired" if expired else "admitted", retry_after_s=retry, position=0, ahead=0,
                    hold=None if expired else {"id": hold_id, "expires_at": _iso(expires_ms), "amount": amount})
    elif kind is Kind.REGISTERED:
        view.update(status="confirmed", registration_id=int(result[3]), retry_after_s=int(result[4]))
    else:
        reason = text(result[3])
        view.update(status=ENDED.get(reason, "left"), reason=reason, retry_after_s=int(result[4]))
    return view


def _iso(ms):
    return datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat()


def leave(race_id, user_id):
    """Take the runner out of the line; returns (LEFT, BUSY, NONE or the Kind of place they had, the place's text)."""
    keys = RaceKeys(race_id)
    bucket = None
    current = redis_store.client.hget(keys.who, user_id)
    if current:
        bucket = Place.decode(current).bucket_id
    line_key = keys.line(bucket) if bucket else keys.line(0)
    lobby_key = keys.lobby(bucket) if bucket else keys.lobby(0)
    result = script("LEAVE")(keys=[keys.who, line_key, lobby_key, keys.joins], args=[user_id, to_ms(now())])
    outcome = text(result[0])
    if outcome not in (LEFT, BUSY, NONE):
        outcome = Kind(outcome)
    if outcome == LEFT:
        publish_changes(race_id, [user_id])
    return outcome, text(result[1]) if len(result) > 1 else None


def transition(race_id, user_id, allowed, new_kind, tail="", hold_id="", fallback=None, paid=False):
    """Change a runner's place in Redis to `new_kind` (keeping bucket and arrival, `tail` as its last field) only if
    it is of an `allowed` Kind (and of this hold); `fallback` is the Place to set when the runner has none. `paid`
    records how long the runner took from being told of their hold to paying it, for the admission pacing."""
    keys = RaceKeys(race_id)
    args = [user_id, kinds(*allowed), Kind(new_kind).value, tail, hold_id, fallback.encode() if fallback else ""]
    extra_keys = []
    if paid:
        extra_keys.append(keys.pay_latency)
        args.append(to_ms(now()))
    return script("TRANSITION")(keys=[keys.who, *extra_keys], args=args)


def end_place(race_id, user_id, allowed, reason, hold_id=""):
    """End a runner's place of an allowed Kind (of this hold or registration) with `reason`."""
    return transition(race_id, user_id, allowed, Kind.ENDED, reason, hold_id=hold_id)


def mark_registered(race_id, user_id, bucket_id, registration_id):
    """A paid hold: the runner is registered (and how long they took since being told paces admission)."""
    transition(race_id, user_id, (Kind.HELD, Kind.WAITING, Kind.ENDED), Kind.REGISTERED, str(registration_id),
               fallback=Place.registered(bucket_id, 0, registration_id), paid=True)
    publish_changes(race_id, [user_id])


def note_late_payment(race_id):
    """A payment that came after its hold ran out: the admission pacing counts it as the slowest payment there is."""
    keys = RaceKeys(race_id)
    with redis_store.client.pipeline() as pipe:
        pipe.lpush(keys.pay_latency, LATE_PAYMENT_MS)
        pipe.ltrim(keys.pay_latency, 0, 999)
        pipe.execute()


def window_of(race_id, bucket_id, capacity):
    """How many of a bucket's places may be held at once now: the admission pacing's share, kept in its mirror."""
    window = redis_store.client.hget(RaceKeys(race_id).bucket(bucket_id), "window")
    return int(window) if window is not None else opening_window(capacity)


def claim_registered(race_id, user_id, bucket_id, arrival, registration_id):
    """Make the runner registered in Redis unless they wait, hold a place or are registered; returns whether it did."""
    value = Place.registered(bucket_id, arrival, registration_id).encode()
    return bool(script("CLAIM")(keys=[RaceKeys(race_id).who], args=[user_id, value]))


def mark_place_freed(race_id, user_id, bucket_id, reason):
    """A cancelled or voided registration: the runner has no place, and the bucket is no longer sold out, unless
    its waitlist has runners (they get the place: marathon.admission.offers)."""
    keys = RaceKeys(race_id)
    end_place(race_id, user_id, (Kind.REGISTERED, Kind.HELD), reason)
    if redis_store.client.hget(keys.bucket(bucket_id), "waitlist") != b"1":
        redis_store.client.hset(keys.bucket(bucket_id), "soldout", "0")
    publish_changes(race_id, [user_id])


def mark_waitlisted(race_id, bucket_id, waiting):
    """Mirror whether a sold-out bucket's waitlist has runners: while it has, the line stays sold out."""
    keys = RaceKeys(race_id)
    if waiting:
        redis_store.client.hset(keys.bucket(bucket_id), mapping={"waitlist": "1", "soldout": "1"})
    else:
        redis_store.client.hset(keys.bucket(bucket_id), "waitlist", "0")


def publish_race(race):
    """Mirror the race's sale settings and buckets into Redis (after creation and every change of state)."""
    keys = RaceKeys(race.id)
    client = redis_store.client
    sale = {
        "lobby_ms": to_ms(race.lobby_opens_at), "opens_ms": to_ms(race.sale_opens_at),
        "closes_ms": to_ms(race.sale_closes_at), "manual": race.manual_state or "", "hold_s": race.hold_seconds,
        "pow": race.pow_difficulty,
    }
    with client.pipeline() as pipe:
        pipe.hset(keys.sale, mapping=sale)
        if race.shuffled_at:
            pipe.hset(keys.sale, "shuffled", "1")
        else:
            pipe.hsetnx(keys.sale, "shuffled", "0")
        for course in race.courses:
            for bucket in course.pace_groups:
                name = line_of(course.code, bucket.code)
                pipe.hset(keys.buckets, name, bucket.id)
                pipe.hset(keys.bucket(bucket.id), mapping=_mirror(bucket, course))
                pipe.hsetnx(keys.bucket(bucket.id), "seq", 0)
                pipe.hsetnx(keys.bucket(bucket.id), "rate", 0)
                # the admission pacing owns the window; until its first tick, the pacing's opening value
                pipe.hsetnx(keys.bucket(bucket.id), "window", opening_window(bucket.capacity))
        if race.sale_state(now()) != "closed":
            pipe.sadd(keys.active, race.id)
        pipe.execute()


def _mirror(bucket, course):
    mirror = {"capacity": bucket.capacity, "held": bucket.held, "confirmed": bucket.confirmed,
              "admitted_total": bucket.admitted_total, "name": line_of(course.code, bucket.code), "price": course.price}
    if bucket.free > 0 or bucket.held > 0:
        mirror["soldout"] = "0"
    return mirror


def refresh_mirrors(race_id, buckets, pipe):
    """Copy the database's counters of these buckets into their Redis mirrors (in the caller's pipeline)."""
    keys = RaceKeys(race_id)
    for bucket in buckets:
        mapping = {"capacity": bucket.capacity, "held": bucket.held, "confirmed": bucket.confirmed,
                   "admitted_total": bucket.admitted_total}
        pipe.hset(keys.bucket(bucket.id), mapping=mapping)


def bucket_figures(race):
    """Per bucket id: capacity, held, confirmed, admitted_total, waiting (from Redis, one pipeline)."""
    keys = RaceKeys(race.id)
    bucket_ids = [bucket.id for course in race.courses for bucket in course.pace_groups]
    with redis_store.client.pipeline(transaction=False) as pipe:
        for bucket_id in bucket_ids:
            pipe.hmget(keys.bucket(bucket_id), "capacity", "held", "confirmed", "admitted_total")
            pipe.zcard(keys.line(bucket_id))
            pipe.zcard(keys.lobby(bucket_id))
            pipe.hlen(keys.pending(bucket_id))
        replies = pipe.execute()
    figures = {}
    for index, bucket_id in enumerate(bucket_ids):
        counters, line_size, lobby_size, pending = replies[index * 4: index * 4 + 4]
        capacity, held, confirmed, admitted = (int(value or 0) for value in counters)
        figures[bucket_id] = {"capacity": capacity, "held": held, "confirmed": confirmed,
                              "admitted_total": admitted, "waiting": line_size + lobby_size + pending}
    return figures


def status_cadence(race_id):
    """user id -> (status polls, polls right at retry_after_s, polls too soon), from the STATUS script's counters."""
    counts = {}
    for field, value in redis_store.client.hgetall(RaceKeys(race_id).cadence).items():
        user, kind = text(field).rsplit(":", 1)
        counts.setdefault(int(user), {"n": 0, "r": 0, "e": 0})[kind] = int(value)
    return {user: (c["n"], c["r"], c["e"]) for user, c in counts.items()}
