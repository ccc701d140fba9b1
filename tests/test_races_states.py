"""Sale states: admins' transitions (legal and not), the calendar's, and the audit trail of both."""
from datetime import timedelta

import pytest

from marathon.blueprints.lines.keys import RaceKeys
from marathon.blueprints.races import services as races
from marathon.blueprints.races.models import Race, SaleEvent
from marathon.extensions import db, redis_store
from tests.race_specs import create, race_spec


@pytest.fixture
def admin(users):
    return users.admin_headers()


@pytest.fixture
def race(client, admin, clock):
    return create(client, admin, race_spec(clock))


def act(client, admin, action, ref="spring-10k"):
    return client.post(f"/api/v1/admin/races/{ref}/{action}", headers=admin)


def state(client, ref="spring-10k"):
    return client.get(f"/api/v1/races/{ref}").get_json()["sale_state"]


def trail(app, race_id):
    with app.app_context():
        return [(event.from_state, event.to_state, event.actor)
                for event in db.session.query(SaleEvent).filter_by(race_id=race_id).order_by(SaleEvent.id)]


def test_open_pause_open_close_and_the_audit_trail(app, client, admin, race, clock):
    for action, expected in (("open", "open"), ("pause", "paused"), ("open", "open"), ("close", "closed")):
        response = act(client, admin, action)
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["sale_state"] == expected
        assert state(client) == expected
    assert trail(app, race["id"]) == [
        ("new", "scheduled", "admin@example.com"), ("scheduled", "open", "admin@example.com"),
        ("open", "paused", "admin@example.com"), ("paused", "open", "admin@example.com"),
        ("open", "closed", "admin@example.com"),
    ]


@pytest.mark.parametrize("steps, action, from_state", [
    ((), "pause", "scheduled"),
    (("open",), "open", "open"),
    (("open", "pause"), "pause", "paused"),
    (("close",), "open", "closed"),
    (("close",), "pause", "closed"),
    (("close",), "close", "closed"),
])
def test_illegal_transitions_are_409_naming_from_and_to(client, admin, race, steps, action, from_state):
    for step in steps:
        assert act(client, admin, step).status_code == 200
    response = act(client, admin, action)
    body = response.get_json()
    assert response.status_code == 409 and body["reason"] == "illegal_transition"
    assert body["errors"]["from"] == from_state
    assert body["errors"]["to"] == races.TRANSITIONS[action][0]
    assert from_state in body["message"]


def test_the_calendar_moves_the_state_and_is_recorded_when_noticed(app, client, race, clock):
    opens = clock.now().replace(microsecond=0) + timedelta(days=1)
    clock.set(opens - timedelta(minutes=5))
    assert state(client) == "lobby"
    clock.set(opens + timedelta(hours=1))
    assert state(client) == "open"
    clock.set(opens + timedelta(days=8))
    assert state(client) == "closed"
    assert state(client) == "closed"  # noticed again: recorded once
    assert trail(app, race["id"])[1:] == [("scheduled", "lobby", "clock"), ("lobby", "open", "clock"),
                                          ("open", "closed", "clock")]
    with app.app_context():
        at = [event.at for event in db.session.query(SaleEvent).filter_by(actor="clock").order_by(SaleEvent.id)]
    assert at == [opens - timedelta(minutes=30), opens, opens + timedelta(days=7)]


def test_a_pause_holds_past_the_calendars_opening_and_the_close_wins_over_it(app, client, admin, race, clock):
    opens = clock.now().replace(microsecond=0) + timedelta(days=1)
    clock.set(opens + timedelta(minutes=1))
    assert act(client, admin, "pause").status_code == 200
    clock.advance(hours=2)
    assert state(client) == "paused"
    clock.set(opens + timedelta(days=7))
    assert state(client) == "closed"
    assert act(client, admin, "open").status_code == 409
    assert trail(app, race["id"])[-1] == ("paused", "closed", "clock")


def test_changes_are_published_to_the_lines(app, client, admin, race):
    keys = RaceKeys(race["id"])
    with app.app_context():
        assert redis_store.client.hget(keys.sale, "manual") == b""
        assert act(client, admin, "pause").status_code == 409
        assert act(client, admin, "open").status_code == 200
        assert redis_store.client.hget(keys.sale, "manual") == b"open"
        assert act(client, admin, "close").status_code == 200
        assert redis_store.client.hget(keys.sale, "manual") == b"closed"
        assert db.session.get(Race, race["id"]).manual_state == "closed"


def test_unknown_race_is_404_for_a_transition(client, admin):
    response = act(client, admin, "open", ref="nowhere")
    assert response.status_code == 404 and response.get_json()["reason"] == "race_not_found"
