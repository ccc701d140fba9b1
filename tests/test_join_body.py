"""The join's body: well-formed bodies take the hand-checked fast path, every other body gets the schema's 422."""
import pytest

from marathon.blueprints.lines.schemas import JoinSchema
from tests.factories import make_race


@pytest.mark.parametrize("body, field", [
    ({"pace_group": "5"}, "course"),
    ({"course": "10K"}, "pace_group"),
    ({"course": 10, "pace_group": "5"}, "course"),
    ({"course": "", "pace_group": "5"}, "course"),
    ({"course": "10K", "pace_group": "5" * 21}, "pace_group"),
    ({"course": "10K", "pace_group": "5", "extra": 1}, "extra"),
    ({"course": "10K", "pace_group": "5", "pow": None}, "pow"),
])
def test_malformed_join_bodies_get_the_schemas_422(app, client, users, clock, body, field):
    with app.app_context():
        make_race(clock, opens_in_s=-1)
    answer = client.post("/api/v1/races/test-race/queue", json=body, headers=users.headers())
    assert answer.status_code == 422, answer.get_json()
    assert field in answer.get_json()["errors"]["json"]


def test_lean_check_accepts_exactly_what_the_schema_loads_unchanged():
    for body in ({"course": "10K", "pace_group": "5"}, {"course": "FULL", "pace_group": "3h", "pow": "abc"}):
        assert JoinSchema.lean_check(body) and JoinSchema().load(body) == body
    for body in (None, [], {"course": "10K"}, {"course": "10K", "pace_group": 5}, {"course": "x" * 11, "pace_group": "5"}):
        assert not JoinSchema.lean_check(body)


def test_well_formed_join_is_accepted(app, client, users, clock):
    with app.app_context():
        make_race(clock, opens_in_s=-1)
    answer = client.post("/api/v1/races/test-race/queue", json={"course": "10K", "pace_group": "5"},
                         headers=users.headers())
    assert answer.status_code == 202 and answer.get_json()["line"] == "10K/5"
