"""The race spec: every impossible value is refused naming its field; defaults and bib blocks are filled in."""
from datetime import timedelta
from pathlib import Path

import pytest

from marathon.blueprints.races.models import Course, Race
from marathon.blueprints.races.schemas import assign_bib_blocks, block_size
from marathon.extensions import db
from tests.race_specs import create, race_spec

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture
def admin(users):
    return users.admin_headers()


def refused(client, admin, spec):
    response = client.post("/api/v1/admin/races", json=spec, headers=admin)
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert body["reason"] == "invalid_race_spec"
    return body


def test_unknown_key_is_refused(client, admin, clock):
    body = refused(client, admin, race_spec(clock, colour="red"))
    assert body["errors"]["json"] == {"colour": ["Unknown field."]}
    assert "colour" in body["message"]


def test_unknown_key_inside_a_pace_group_is_refused(client, admin, clock):
    spec = race_spec(clock)
    spec["courses"][0]["pace_groups"][0]["seats"] = 3
    body = refused(client, admin, spec)
    assert "courses.0.pace_groups.0.seats" in body["message"]


def test_negative_capacity_is_refused(client, admin, clock):
    spec = race_spec(clock)
    spec["courses"][1]["pace_groups"][0]["capacity"] = -1
    body = refused(client, admin, spec)
    assert "capacity" in body["errors"]["json"]["courses"]["1"]["pace_groups"]["0"]
    assert "courses.1.pace_groups.0.capacity" in body["message"]


def test_min_pace_above_max_pace_is_refused(client, admin, clock):
    spec = race_spec(clock)
    spec["courses"][0]["pace_groups"][1].update(min_pace_s=360, max_pace_s=300)
    body = refused(client, admin, spec)
    assert "min_pace_s" in body["errors"]["json"]["courses"]["0"]["pace_groups"]["1"]
    assert "max_pace_s" in body["message"]


def test_overlapping_pace_bands_in_a_course_are_refused(client, admin, clock):
    spec = race_spec(clock)
    spec["courses"][0]["pace_groups"][1].update(min_pace_s=290)
    body = refused(client, admin, spec)
    assert "courses.0.pace_groups.1.min_pace_s" in body["message"]
    assert "overlaps" in body["message"]


def test_the_same_band_in_two_courses_is_fine(client, admin, clock):
    spec = race_spec(clock)
    spec["courses"][1]["pace_groups"][0].update(min_pace_s=240, max_pace_s=299)
    create(client, admin, spec)


def test_duplicate_pace_group_codes_in_a_course_are_refused(client, admin, clock):
    spec = race_spec(clock)
    spec["courses"][0]["pace_groups"][1]["code"] = "4"
    body = refused(client, admin, spec)
    assert "courses.0.pace_groups.1.code" in body["message"]


def test_sale_closing_before_it_opens_is_refused(client, admin, clock):
    spec = race_spec(clock)
    spec["sale_closes_at"] = (clock.now() - timedelta(days=1)).isoformat()
    body = refused(client, admin, spec)
    assert list(body["errors"]["json"]) == ["sale_closes_at"]
    assert body["message"].startswith("invalid race spec: sale_closes_at:")


def test_race_date_before_the_sale_opens_is_refused(client, admin, clock):
    spec = race_spec(clock, opens_in=timedelta(days=10))
    spec["date"] = (clock.now() + timedelta(days=2)).date().isoformat()
    body = refused(client, admin, spec)
    assert list(body["errors"]["json"]) == ["date"]


def test_duplicate_course_codes_are_refused(client, admin, clock):
    spec = race_spec(clock)
    spec["courses"][1]["code"] = "10K"
    body = refused(client, admin, spec)
    assert "courses.1.code" in body["message"]


def test_unknown_course_code_is_refused(client, admin, clock):
    spec = race_spec(clock)
    spec["courses"][1]["code"] = "ULTRA"
    body = refused(client, admin, spec)
    assert "courses.1.code" in body["message"]


def test_overlapping_bib_blocks_are_refused(client, admin, clock):
    spec = race_spec(clock)
    spec["courses"][0]["bib_start"] = 1
    spec["courses"][1]["bib_start"] = 5001
    body = refused(client, admin, spec)
    assert "courses.1.bib_start" in body["message"]


def test_a_time_without_offset_is_refused(client, admin, clock):
    spec = race_spec(clock)
    spec["refund_until"] = "2030-01-01T00:00:00"
    body = refused(client, admin, spec)
    assert list(body["errors"]["json"]) == ["refund_until"]


def test_a_slug_of_digits_is_refused_as_it_would_read_as_an_id(client, admin, clock):
    body = refused(client, admin, race_spec(clock, slug="2027"))
    assert list(body["errors"]["json"]) == ["slug"]


def test_a_body_that_is_not_an_object_is_refused(client, admin):
    response = client.post("/api/v1/admin/races", json=[1, 2], headers=admin)
    assert response.status_code == 422 and response.get_json()["reason"] == "invalid_race_spec"


def test_a_taken_slug_is_refused(client, admin, clock):
    create(client, admin, race_spec(clock))
    response = client.post("/api/v1/admin/races", json=race_spec(clock), headers=admin)
    assert response.status_code == 409 and response.get_json()["reason"] == "slug_taken"


def test_defaults_transfer_until_bibs_and_shuffle_commitment(app, client, admin, clock):
    spec = race_spec(clock)
    spec["courses"][1]["bib_start"] = 50001
    del spec["lobby_minutes"]
    created = create(client, admin, spec)
    with app.app_context():
        race = db.session.get(Race, created["id"])
        assert race.transfer_until == race.refund_until
        assert race.lobby_minutes == 30
        bibs = {course.code: (course.bib_start, course.bib_end, course.next_bib) for course in race.courses}
        assert bibs == {"10K": (50001 + 10000, 50001 + 20000, 60001), "5K": (50001, 60001, 50001)}
        assert len(race.shuffle_seed) == 64 and len(race.shuffle_commitment) == 64


def test_automatic_bib_blocks_follow_each_other_and_grow_with_capacity():
    courses = [{"code": "FULL", "pace_groups": [{"capacity": 9000}]},
               {"code": "10K", "pace_groups": [{"capacity": 100}]}]
    blocks = [(course["bib_start"], course["bib_end"]) for course in assign_bib_blocks(courses)]
    assert blocks == [(1, 20001), (20001, 30001)]
    assert block_size(0) == 10000 and block_size(6667) == 20000


def test_the_examples_are_valid_races(runner, app):
    for example in ("seoul-city-marathon.yaml", "small-fun-run.json"):
        result = runner.invoke(args=["race", "create", str(EXAMPLES / example)])
        assert result.exit_code == 0, result.output
    with app.app_context():
        big = db.session.query(Race).filter_by(slug="seoul-city-marathon-2027").one()
        places = sum(bucket.capacity for course in big.courses for bucket in course.pace_groups)
        assert places == 30000
        assert {course.code for course in big.courses} == {"5K", "10K", "HALF", "FULL"}
        assert db.session.query(Course).filter_by(race_id=big.id, code="FULL").one().bib_start == 1
