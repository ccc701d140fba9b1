"""The public race catalogue and race detail: shape, live figures from Redis, the shuffle's visibility, the cache."""
import hashlib
from datetime import timedelta

import pytest

from marathon.blueprints.lines.keys import RaceKeys
from marathon.blueprints.races.models import PaceGroup
from marathon.extensions import db, redis_store
from tests.race_specs import create, race_spec


@pytest.fixture
def admin(users):
    return users.admin_headers()


@pytest.fixture
def race(client, admin, clock):
    return create(client, admin, race_spec(clock))


def detail(client, ref):
    response = client.get(f"/api/v1/races/{ref}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_list_has_the_contract_fields(client, race):
    response = client.get("/api/v1/races")
    assert response.status_code == 200
    (listed,) = response.get_json()
    assert set(listed) == {"id", "slug", "name", "date", "sale_opens_at", "sale_closes_at", "sale_state"}
    assert listed["slug"] == "spring-10k" and listed["sale_state"] == "scheduled"
    assert listed["sale_opens_at"].endswith("+00:00")


def test_detail_by_id_and_by_slug_has_courses_and_buckets(client, race):
    by_slug = detail(client, "spring-10k")
    assert detail(client, race["id"]) == by_slug
    assert [course["code"] for course in by_slug["courses"]] == ["10K", "5K"]
    ten = by_slug["courses"][0]
    assert {key: ten[key] for key in ("name", "distance_km", "price")} == {"name": "10 km", "distance_km": 10.0,
                                                                        "price": 50000}
    assert ten["pace_groups"][0] == {"code": "4", "label": "4:00-4:59 /km", "min_pace_s": 240, "max_pace_s": 299,
                                     "corral": "A", "capacity": 5, "remaining": 5, "waiting": 0, "sold_out": False}
    assert "shuffle" not in by_slug


def test_unknown_race_is_404(client):
    response = client.get("/api/v1/races/nowhere")
    assert response.status_code == 404 and response.get_json()["reason"] == "race_not_found"


def test_remaining_and_waiting_come_from_the_lines(app, client, race, clock):
    with app.app_context():
        bucket = db.session.query(PaceGroup).filter_by(race_id=race["id"], code="5").one()
        keys = RaceKeys(race["id"])
        redis_store.client.hset(keys.bucket(bucket.id), mapping={"held": 1, "confirmed": 1})
        redis_store.client.zadd(keys.line(bucket.id), {"11": 1, "12": 2})
        redis_store.client.zadd(keys.lobby(bucket.id), {"13": 3})
    clock.advance(2)  # past the detail's one-second cache
    group = detail(client, "spring-10k")["courses"][0]["pace_groups"][1]
    assert (group["capacity"], group["remaining"], group["waiting"]) == (3, 1, 3)


def test_detail_is_cached_for_a_second(app, client, race, clock):
    first = detail(client, "spring-10k")
    with app.app_context():
        bucket = db.session.query(PaceGroup).filter_by(race_id=race["id"], code="4").one()
        redis_store.client.zadd(RaceKeys(race["id"]).line(bucket.id), {"21": 1})
    clock.advance(0.5)
    assert detail(client, "spring-10k") == first
    clock.advance(0.6)
    assert detail(client, "spring-10k")["courses"][0]["pace_groups"][0]["waiting"] == 1


def test_cache_never_outlives_a_change_of_state_by_the_calendar(client, race, clock):
    opens = clock.now().replace(microsecond=0) + timedelta(days=1)
    clock.set(opens - timedelta(minutes=30, milliseconds=200))
    assert detail(client, "spring-10k")["sale_state"] == "scheduled"
    clock.advance(0.3)
    assert detail(client, "spring-10k")["sale_state"] == "lobby"


def test_shuffle_commitment_from_the_lobby_and_seed_from_the_opening(client, race, clock, admin):
    opens = clock.now().replace(microsecond=0) + timedelta(days=1)
    assert "shuffle" not in detail(client, "spring-10k")
    clock.set(opens - timedelta(minutes=10))
    lobby = detail(client, "spring-10k")
    assert lobby["sale_state"] == "lobby" and set(lobby["shuffle"]) == {"commitment"}
    clock.set(opens + timedelta(seconds=1))
    opened = detail(client, "spring-10k")
    assert opened["sale_state"] == "open"
    assert opened["shuffle"]["commitment"] == lobby["shuffle"]["commitment"]
    assert hashlib.sha256(opened["shuffle"]["seed"].encode()).hexdigest() == opened["shuffle"]["commitment"]
    assert client.post("/api/v1/admin/races/spring-10k/pause", headers=admin).status_code == 200
    assert "seed" in detail(client, "spring-10k")["shuffle"]


def test_an_early_opening_reveals_the_seed_at_once(client, race, admin):
    assert client.post("/api/v1/admin/races/spring-10k/open", headers=admin).status_code == 200
    shown = detail(client, "spring-10k")
    assert shown["sale_state"] == "open" and "seed" in shown["shuffle"]


def test_openapi_documents_the_race_endpoints(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    for path in ("/api/v1/races", "/api/v1/races/{race}", "/api/v1/admin/races", "/api/v1/admin/races/{race}/open",
                 "/api/v1/admin/races/{race}/pause", "/api/v1/admin/races/{race}/close",
                 "/api/v1/admin/races/{race}/stats", "/api/v1/admin/races/{race}/registrations.csv",
                 "/api/v1/admin/races/{race}/buckets/{course}/{pace_group}"):
        assert path in paths, path
    create_doc = paths["/api/v1/admin/races"]["post"]
    assert create_doc["security"] == [{"bearerAuth": []}]
    assert "requestBody" in create_doc and "201" in create_doc["responses"]
    assert "text/csv" in paths["/api/v1/admin/races/{race}/registrations.csv"]["get"]["responses"]["200"]["content"]


def test_while_redis_has_lost_a_bucket_the_database_row_answers(app, client, race, clock):
    with app.app_context():
        bucket = db.session.query(PaceGroup).filter_by(race_id=race["id"], code="5").one()
        bucket.held = 2
        db.session.commit()
        redis_store.client.delete(RaceKeys(race["id"]).bucket(bucket.id))
    clock.advance(2)
    group = detail(client, "spring-10k")["courses"][0]["pace_groups"][1]
    assert (group["capacity"], group["remaining"]) == (3, 1)
