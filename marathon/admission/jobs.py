"""RQ jobs of the waiting lines, and the pacemaker that enqueues them a few times a second."""
import logging
import threading

from marathon.admission import journal, pacing, policies
from marathon.admission import batches as admission
from marathon.blueprints.lines import engine as line
from marathon.blueprints.lines.keys import RaceKeys, text
from marathon.blueprints.lines.rules import admissible
from marathon.core import metrics
from marathon.core.clock import now, to_ms
from marathon.core.jobs import queue
from marathon.extensions import db, redis_store

log = logging.getLogger(__name__)
TICK_S = 0.2
IN_FLIGHT_MS = 5000
SWEEP_QUEUED, SWEEP_EVERY_MS = "m:sweep-queued", 30_000
# a bucket that admitted within this time waits for a tenth of its window to be free before admitting again
ADMIT_EVERY_MS = 1000
JOB_OPTIONS = {"result_ttl": 0, "failure_ttl": 3600, "job_timeout": 120}


def race_round(race_id):
    """The race's housekeeping: the opening shuffle, expired holds, the sale mode's draw and offers, the join journal,
    mirrors and sell-outs."""
    keys = RaceKeys(race_id)
    try:
        with admission.Lock(keys.lock("round")) as locked:
            if not locked:
                return
            race = admission.race_of(race_id)
            if race is None:
                redis_store.client.srem(keys.active, race_id)
                return
            rebuild_if_redis_lost(race, keys)
            state = race.sale_state(now())
            if not race.shuffled_at and (state == "open" or now() >= race.sale_opens_at):
                policies.open_sale(race)
            admission.shorten_told_holds(race_id)
            admission.expire_holds(race_id)
            policies.make_offers(race)
            journal.flush_joins(race_id)
            buckets = admission.buckets_of(race_id)
            with redis_store.client.pipeline() as pipe:
                line.refresh_mirrors(race_id, buckets, pipe)
                pipe.execute()
            admission.sell_out_full_buckets(race_id, buckets)
            if state == "closed" and not any(bucket.held for bucket in buckets):
                redis_store.client.srem(keys.active, race_id)
    finally:
        # the worker keeps one app context for all jobs: never hand a failed transaction to the next job
        db.session.remove()
        redis_store.client.delete(keys.lock("round-queued"))


def rebuild_if_redis_lost(race, keys):
    """Rebuild the race in Redis from the database when Redis lost it whole (restarted empty, flushed) or in part
    (killed, then restarted from an AOF that misses up to a second of writes: its run_id is new). While it is
    rebuilt the race's sale hash is absent, so joins, leaves and status answer 503 line_unavailable."""
    client = redis_store.client
    with client.pipeline(transaction=False) as pipe:
        pipe.exists(keys.sale)
        pipe.get(keys.redis_run)
        pipe.info("server")
        published, known_run, server = pipe.execute()
    run_id = server["run_id"]
    if published and known_run is None:
        client.set(keys.redis_run, run_id)  # first round on this server (or the first since this check exists)
        return
    if published and text(known_run) == run_id:
        return
    if published:
        log.warning("race %s: Redis restarted (run %s) and may miss its last writes: rebuilding from the database",
                    race.id, run_id)
        client.delete(keys.sale)
    else:
        log.warning("race %s missing from Redis: reconciling from the database", race.id)
    journal.reconcile(race)
    client.set(keys.redis_run, run_id)


def admit(race_id, bucket_id):
    """Admit the head of one bucket's line into its free places."""
    keys = RaceKeys(race_id)
    try:
        race = admission.race_of(race_id)
        if race is not None:
            admission.admit_bucket(race, bucket_id)
    finally:
        db.session.remove()
        redis_store.client.delete(keys.lock(f"queued-{bucket_id}"))


def known_races(client):
    """Fill the set of live races from the database if Redis lost it (restarted empty, flushed): without it no
    round would run, and no round would notice that the races themselves must be rebuilt."""
    keys = RaceKeys(0)
    if client.exists(keys.active_known):
        return
    race_ids = admission.live_race_ids()
    with client.pipeline() as pipe:
        if race_ids:
            pipe.sadd(keys.active, *race_ids)
        pipe.set(keys.active_known, 1)
        pipe.execute()
    if race_ids:
        log.warning("active races rebuilt from the database: %s", race_ids)


def tick():
    """Enqueue the rounds that have work: one race round per race, one admission per bucket with free places."""
    client = redis_store.client
    known_races(client)
    enqueued = 0
    # orders a dead process left confirming or charged are finished by the payment blueprint's sweeper
    if client.set(SWEEP_QUEUED, 1, nx=True, px=SWEEP_EVERY_MS):
        queue("admissions").enqueue("marathon.blueprints.payment.sweeper.sweep_job", **JOB_OPTIONS)
        enqueued += 1
    for raw_race in client.smembers(RaceKeys(0).active):
        race_id = int(raw_race)
        keys = RaceKeys(race_id)
        if client.set(keys.lock("round-queued"), 1, nx=True, px=IN_FLIGHT_MS):
            queue("admissions").enqueue("marathon.admission.jobs.race_round", race_id, **JOB_OPTIONS)
            enqueued += 1
        names = {int(value): text(name) for name, value in client.hgetall(keys.buckets).items()}
        bucket_ids = list(names)
        with client.pipeline(transaction=False) as pipe:
            pipe.hget(keys.sale, "hold_s")
            for bucket_id in bucket_ids:
                pipe.hmget(keys.bucket(bucket_id), "capacity", "held", "confirmed", "admitted_ms")
                pipe.zcard(keys.line(bucket_id))
                pipe.hlen(keys.pending(bucket_id))
            hold_s, *replies = pipe.execute()
        moment = to_ms(now())
        figures = {}
        for index, bucket_id in enumerate(bucket_ids):
            counters, waiting, pending = replies[index * 3: index * 3 + 3]
            figures[bucket_id] = (*(int(value or 0) for value in counters[:3]), waiting + pending)
        windows = pacing.pace_race(client, keys, int(hold_s or 600), figures) if figures else {}
        for index, bucket_id in enumerate(bucket_ids):
            capacity, held, confirmed, _in_line = figures[bucket_id]
            counters, waiting, pending = replies[index * 3: index * 3 + 3]
            free = admissible(capacity, held, confirmed, windows[bucket_id])
            metrics.bucket_figures(race_id, names[bucket_id], capacity, held, confirmed, waiting + pending)
            # places freed one payment at a time are admitted in batches: a tenth of the window, or once a second
            recent = moment - int(counters[3] or 0) < ADMIT_EVERY_MS
            worth_it = free >= max(1, windows[bucket_id] // 10) or not recent
            if (pending or (waiting and free > 0 and worth_it)) and client.set(
                keys.lock(f"queued-{bucket_id}"), 1, nx=True, px=IN_FLIGHT_MS
            ):
                queue("admissions").enqueue("marathon.admission.jobs.admit", race_id, bucket_id,
                                            **JOB_OPTIONS)
                enqueued += 1
    return enqueued


class Pacemaker(threading.Thread):
    """Ticks every TICK_S seconds in a worker process, so a freed place admits the next runner within a second."""

    def __init__(self, app, interval=TICK_S):
        super().__init__(name="pacemaker", daemon=True)
        self.app, self.interval, self.stopped = app, interval, threading.Event()

    def run(self):
        with self.app.app_context():
            while not self.stopped.wait(self.interval):
                try:
                    tick()
                except Exception:  # a Redis blip must not end the pacemaker
                    log.exception("pacemaker tick failed")

    def stop(self):
        self.stopped.set()
