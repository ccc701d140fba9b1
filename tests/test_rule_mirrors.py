"""The rules the Lua scripts copy from Python (sale state, the runner's place, free places) give the same answers."""
from datetime import datetime, timedelta, timezone

import pytest
import redis

from marathon.blueprints.lines.place import Kind, Place
from marathon.blueprints.lines.rules import admissible
from marathon.blueprints.lines.scripts import PRELUDE
from marathon.blueprints.races.models import Race, SALE_STATES
from marathon.core.clock import to_ms

OPENS = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
CLOSES = OPENS + timedelta(days=2)


@pytest.fixture
def lua(redis_server):
    client = redis.Redis.from_url(redis_server.url)

    def run(body, *args):
        return client.eval(PRELUDE + body, 0, *args)

    return run


def _moments(race):
    """Every boundary of the calendar, a millisecond before, at and after it, and far from all of them."""
    edges = (race.lobby_opens_at, race.sale_opens_at, race.sale_closes_at)
    nudges = (timedelta(milliseconds=-1), timedelta(0), timedelta(milliseconds=1))
    return [edge + nudge for edge in edges for nudge in nudges] + [OPENS - timedelta(days=3), CLOSES + timedelta(days=3)]


@pytest.mark.parametrize("manual", [None, "open", "paused", "closed"])
@pytest.mark.parametrize("lobby_minutes", [0, 30])
def test_the_lua_sale_state_is_race_sale_state(lua, manual, lobby_minutes):
    race = Race(sale_opens_at=OPENS, sale_closes_at=CLOSES, lobby_minutes=lobby_minutes, manual_state=manual)
    seen = set()
    for moment in _moments(race):
        expected = race.sale_state(moment)
        got = lua("return sale_state(ARGV, tonumber(ARGV[5]))", to_ms(race.lobby_opens_at), to_ms(OPENS),
                  to_ms(CLOSES), manual or "", to_ms(moment)).decode()
        assert got == expected, (manual, lobby_minutes, moment)
        seen.add(expected)
    assert seen <= set(SALE_STATES)


def test_every_sale_state_is_reached_by_the_comparison(lua):
    reached = set()
    for manual in (None, "open", "paused", "closed"):
        race = Race(sale_opens_at=OPENS, sale_closes_at=CLOSES, lobby_minutes=30, manual_state=manual)
        reached |= {race.sale_state(moment) for moment in _moments(race)}
    assert reached == set(SALE_STATES)


PLACES = [
    Place.waiting(7, 12),
    Place.held(7, 12, 345, 1767225600123, 50000),
    Place.held(7, 12, 345, 1767225600123, 50000, told_ms=1767225590000),
    Place.registered(7, 12, 99),
    Place.registered(7, 0, 0),
    *(Place.ended(7, 12, reason) for reason in ("expired", "skipped", "sold_out", "left", "cancelled", "voided",
                                                "transferred")),
]


@pytest.mark.parametrize("place", PLACES, ids=lambda place: place.encode())
def test_the_lua_place_is_place(lua, place):
    encoded = place.encode()
    assert Place.decode(encoded) == place and Place.decode(encoded.encode()) == place
    fields = encoded.split("|")
    last = fields[3] if len(fields) == 4 else ""
    if place.kind is Kind.HELD:  # the workers write holds; STATUS rewrites one when its runner is told
        assert lua("return held(ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])", *fields[1:]).decode() == encoded
    else:
        assert lua("return place(ARGV[1], ARGV[2], ARGV[3], ARGV[4])", *fields[:3], last).decode() == encoded
    assert [value.decode() for value in lua("return split(ARGV[1])", encoded)] == fields


def test_a_held_place_written_before_the_told_field_reads_as_not_told():
    assert Place.decode("H|7|12|345|1767225600123|50000") == Place.held(7, 12, 345, 1767225600123, 50000)


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError):
        Place.decode("Q|1|2")


def test_the_lua_admissible_is_admissible(lua):
    for capacity in (0, 1, 3, 10):
        for held in range(0, capacity + 2):
            for confirmed in range(0, capacity + 2):
                for window in sorted({1, 2, capacity, capacity + 5}):
                    expected = admissible(capacity, held, confirmed, window)
                    got = lua("return admissible(ARGV)", capacity, held, confirmed, 0, "", window)
                    assert got == expected, (capacity, held, confirmed, window)
