"""Builders of test data that go through the same services as production where one exists."""
import hashlib
import secrets
from datetime import date, timedelta

from rq import SimpleWorker

from marathon.admission import jobs
from marathon.blueprints.lines import engine as line
from marathon.blueprints.races.models import Course, PaceGroup, Race
from marathon.core.jobs import QUEUES
from marathon.extensions import db, redis_store


def make_race(clock, slug="test-race", buckets=(("10K", "5", 3),), opens_in_s=0, lobby_minutes=30,
              hold_seconds=600, price=50000, pow_difficulty=0):
    """A race whose sale opens `opens_in_s` seconds from the clock's now; buckets are (course, pace group, capacity)."""
    opens = clock.now() + timedelta(seconds=opens_in_s)
    seed = secrets.token_hex(32)
    race = Race(
        slug=slug, name=f"Race {slug}", date=date(2030, 4, 1), sale_opens_at=opens,
        sale_closes_at=opens + timedelta(days=7), lobby_minutes=lobby_minutes, hold_seconds=hold_seconds,
        pow_difficulty=pow_difficulty, refund_until=opens + timedelta(days=30), transfer_until=opens + timedelta(days=30),
        shuffle_seed=seed, shuffle_commitment=hashlib.sha256(seed.encode()).hexdigest(),
    )
    courses = {}
    for code, _group, _capacity in buckets:
        if code not in courses:
            start = 1 + 10000 * len(courses)
            courses[code] = Course(code=code, name=code, distance_km={"5K": 5, "10K": 10, "HALF": 21.0975,
                                                                       "FULL": 42.195}[code],
                                   price=price, bib_start=start, bib_end=start + 10000, next_bib=start)
            race.courses.append(courses[code])
    db.session.add(race)
    db.session.flush()
    for index, (code, group, capacity) in enumerate(buckets):
        pace = 200 + 60 * index
        courses[code].pace_groups.append(PaceGroup(
            race_id=race.id, code=group, label=f"pace {group}", min_pace_s=pace, max_pace_s=pace + 59, corral=chr(65 + index),
            capacity=capacity,
        ))
    db.session.commit()
    line.publish_race(race)
    return race


def bucket(race, course="10K", group="5"):
    return next(b for c in race.courses if c.code == course for b in c.pace_groups if b.code == group)


def run_rounds(times=1):
    """What the workers do: tick the pacemaker, then run the enqueued jobs to the end (burst)."""
    for _ in range(times):
        jobs.tick()
        SimpleWorker(list(QUEUES), connection=redis_store.client).work(burst=True, logging_level="WARNING")
