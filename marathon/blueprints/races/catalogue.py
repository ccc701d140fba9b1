"""Per-process caches of each race's buckets and of bucket line names, so the hot paths resolve names without SQL."""
import threading
import time
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from marathon.blueprints.races.models import Course, line_of, PaceGroup
from marathon.blueprints.races.services import get_race
from marathon.core.errors import DomainError
from marathon.extensions import db

TTL_S = 10
# bucket id -> line name ('10K/5'), for metrics' labels: a bucket's course and code never change
_NAMES = {}
# one lookup at a time per process: when an entry runs out in the middle of a rush, the first request reloads it and
# the others wait for that instead of each loading the race (a stampede that opened a database connection apiece)
_LOADING = threading.Lock()


@dataclass(frozen=True)
class RaceEntry:
    race_id: int
    slug: str
    buckets: dict  # (course code, pace group code) -> bucket id
    pow_difficulty: int
    sale_mode: str = "first_come"


def _cache():
    return current_app.extensions.setdefault("race_catalogue", {})


def lookup(ref):
    """The race's entry by id or slug; raises NotFound (race_not_found)."""
    ref = str(ref)
    cache = _cache()
    hit = cache.get(ref)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    with _LOADING:
        hit = cache.get(ref)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        return _load(cache, ref)


def _load(cache, ref):
    race = get_race(ref)
    entry = RaceEntry(
        race.id, race.slug,
        {(course.code, bucket.code): bucket.id for course in race.courses for bucket in course.pace_groups},
        race.pow_difficulty,
        race.sale_mode,
    )
    db.session.rollback()
    cache[ref] = (time.monotonic() + TTL_S, entry)
    return entry


def bucket_id(entry, course, pace_group):
    """The bucket of (course, pace group); raises DomainError 422 naming what is unknown."""
    found = entry.buckets.get((course, pace_group))
    if found is None:
        courses = sorted({code for code, _ in entry.buckets})
        if course not in courses:
            raise DomainError(f"unknown course {course!r}; this race has {', '.join(courses)}", "unknown_bucket",
                              status=422, errors={"json": {"course": [f"not a course of this race: {course}"]}})
        groups = sorted(group for code, group in entry.buckets if code == course)
        raise DomainError(f"unknown pace group {pace_group!r} for {course}; it has {', '.join(groups)}",
                          "unknown_bucket", status=422,
                          errors={"json": {"pace_group": [f"not a pace group of {course}: {pace_group}"]}})
    return found


def forget(ref=None):
    """Drop cached entries (after a race's buckets change)."""
    if ref is None:
        _cache().clear()
    else:
        _cache().pop(str(ref), None)


def line_name(bucket_id):
    """The bucket's line name ('10K/5'), from a per-process cache (one query the first time)."""
    name = _NAMES.get(bucket_id)
    if name is None:
        course, code = db.session.execute(
            select(Course.code, PaceGroup.code).join(Course, Course.id == PaceGroup.course_id)
            .where(PaceGroup.id == bucket_id)
        ).one()
        name = _NAMES[bucket_id] = line_of(course, code)
    return name
