"""The admin API: guarded on every route, stats from the lines, the registrations CSV, and the capacity rule."""
import csv
import io
import threading

import pytest
from sqlalchemy import update

from marathon.blueprints.lines.keys import RaceKeys
from marathon.blueprints.races.models import PaceGroup, SaleEvent
from marathon.blueprints.registrations.models import Hold, Registration
from marathon.core.clock import now
from marathon.extensions import db, redis_store
from tests.race_specs import create, race_spec

ADMIN_ROUTES = [
    ("post", "/api/v1/admin/races"),
    ("post", "/api/v1/admin/races/spring-10k/open"),
    ("post", "/api/v1/admin/races/spring-10k/pause"),
    ("post", "/api/v1/admin/races/spring-10k/close"),
    ("get", "/api/v1/admin/races/spring-10k/stats"),
    ("get", "/api/v1/admin/races/spring-10k/registrations.csv"),
    ("patch", "/api/v1/admin/races/spring-10k/buckets/10K/5"),
]


@pytest.fixture
def admin(users):
    return users.admin_headers()


@pytest.fixture
def race(client, admin, clock):
    return create(client, admin, race_spec(clock))


@pytest.mark.parametrize("method, path", ADMIN_ROUTES)
def test_admin_routes_refuse_anonymous_with_401(client, race, method, path):
    response = getattr(client, method)(path, json={"capacity": 1})
    assert response.status_code == 401 and response.get_json()["code"] == 401


@pytest.mark.parametrize("method, path", ADMIN_ROUTES)
def test_admin_routes_refuse_a_runner_with_403(client, users, race, method, path):
    response = getattr(client, method)(path, json={"capacity": 1}, headers=users.headers())
    body = response.get_json()
    assert response.status_code == 403 and body["reason"] == "admin_required"


def bucket_of(race_id, line):
    course, code = line.split("/")
    return next(bucket for bucket in db.session.query(PaceGroup).filter_by(race_id=race_id)
                if bucket.course.code == course and bucket.code == code)


def test_stats_per_bucket_and_in_total(app, client, admin, race):
    with app.app_context():
        bucket = bucket_of(race["id"], "10K/5")
        keys = RaceKeys(race["id"])
        redis_store.client.hset(keys.bucket(bucket.id), mapping={"held": 1, "confirmed": 1, "admitted_total": 2})
        redis_store.client.zadd(keys.line(bucket.id), {"7": 1, "8": 2})
    response = client.get("/api/v1/admin/races/spring-10k/stats", headers=admin)
    assert response.status_code == 200
    body = response.get_json()
    rows = {row["line"]: row for row in body["buckets"]}
    assert list(rows) == ["10K/4", "10K/5", "5K/6"]
    assert {key: rows["10K/5"][key] for key in ("capacity", "confirmed", "held", "waiting", "admitted_total")} == {
        "capacity": 3, "confirmed": 1, "held": 1, "waiting": 2, "admitted_total": 2}
    assert body["totals"] == {"capacity": 12, "confirmed": 1, "held": 1, "remaining": 10, "waiting": 2,
                              "admitted_total": 2}


def register(race_id, line, user_id, bib, name, status="confirmed", amount=50000):
    """A registration row straight in the database (the payment flow lives in another branch)."""
    bucket = bucket_of(race_id, line)
    hold = Hold(race_id=race_id, bucket_id=bucket.id, user_id=user_id, arrival=bib, status="confirmed",
                amount=amount, expires_at=now())
    db.session.add(hold)
    db.session.flush()
    db.session.add(Registration(race_id=race_id, bucket_id=bucket.id, hold_id=hold.id, user_id=user_id, bib=bib,
                                runner_name=name, amount_paid=amount, status=status))
    db.session.execute(update(PaceGroup).where(PaceGroup.id == bucket.id)
                       .values(confirmed=PaceGroup.confirmed + int(status == "confirmed")))
    db.session.commit()


def test_registrations_csv_has_one_row_per_registration(app, client, admin, users, race):
    runners = [users.signup()["id"] for _ in range(3)]
    with app.app_context():
        register(race["id"], "10K/5", runners[0], 10002, "Kim Minji")
        register(race["id"], "5K/6", runners[1], 1, "=HYPERLINK(\"x\")", amount=30000)
        register(race["id"], "10K/4", runners[2], 10001, "Lee, Joon", status="cancelled")
    response = client.get("/api/v1/admin/races/spring-10k/registrations.csv", headers=admin)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "spring-10k-registrations.csv" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows == [
        ["bib", "corral", "name", "course", "pace_group", "status", "amount_paid", "source"],
        ["1", "C", "'=HYPERLINK(\"x\")", "5K", "6", "confirmed", "30000", "line"],
        ["10001", "A", "Lee, Joon", "10K", "4", "cancelled", "50000", "line"],
        ["10002", "B", "Kim Minji", "10K", "5", "confirmed", "50000", "line"],
    ]


def patch_capacity(client, admin, capacity, line="10K/5"):
    return client.patch(f"/api/v1/admin/races/spring-10k/buckets/{line}", json={"capacity": capacity}, headers=admin)


def test_capacity_can_grow_and_shrink_down_to_the_places_in_use(app, client, admin, users, race):
    runner = users.signup()["id"]
    with app.app_context():
        register(race["id"], "10K/5", runner, 10001, "Park Jisoo")
        db.session.execute(update(PaceGroup).where(PaceGroup.id == bucket_of(race["id"], "10K/5").id).values(held=1))
        db.session.commit()
    grown = patch_capacity(client, admin, 10)
    assert grown.status_code == 200, grown.get_json()
    assert (grown.get_json()["capacity"], grown.get_json()["line"]) == (10, "10K/5")
    assert patch_capacity(client, admin, 2).status_code == 200
    refused = patch_capacity(client, admin, 1)
    assert refused.status_code == 409 and refused.get_json()["reason"] == "capacity_below_used"
    assert "2 places in use" in refused.get_json()["message"]
    with app.app_context():
        bucket = bucket_of(race["id"], "10K/5")
        assert bucket.capacity == 2
        assert redis_store.client.hget(RaceKeys(race["id"]).bucket(bucket.id), "capacity") == b"2"
        notes = [event.note for event in db.session.query(SaleEvent).filter_by(race_id=race["id"])]
        assert "capacity of 10K/5: 3 -> 10" in notes and "capacity of 10K/5: 10 -> 2" in notes
    assert client.get("/api/v1/races/spring-10k").get_json()["courses"][0]["pace_groups"][1]["capacity"] == 2


def test_capacity_refuses_what_the_bib_block_cannot_number(client, admin, race):
    response = patch_capacity(client, admin, 9999)
    assert response.status_code == 409 and response.get_json()["reason"] == "bib_block_too_small"


def test_capacity_of_an_unknown_bucket_or_a_bad_value(client, admin, race):
    assert patch_capacity(client, admin, 3, line="10K/9").get_json()["reason"] == "bucket_not_found"
    assert patch_capacity(client, admin, 3, line="FULL/5").status_code == 404
    assert patch_capacity(client, admin, -1).status_code == 422
    assert client.patch("/api/v1/admin/races/spring-10k/buckets/10K/5", json={"capacity": "many"},
                        headers=admin).status_code == 422


def test_capacity_change_is_safe_against_admissions_at_the_same_moment(app, client, admin, race):
    """Admissions fill the bucket while an admin lowers it; the guarded UPDATE never breaks held + confirmed <= capacity."""
    with app.app_context():
        bucket_id = bucket_of(race["id"], "10K/4").id
    outcomes = []

    def admit_one_by_one():
        with app.app_context():
            for _ in range(5):
                db.session.execute(update(PaceGroup).where(
                    PaceGroup.id == bucket_id, PaceGroup.held + PaceGroup.confirmed < PaceGroup.capacity)
                    .values(held=PaceGroup.held + 1))
                db.session.commit()

    admitting = threading.Thread(target=admit_one_by_one)
    admitting.start()
    for capacity in (4, 3, 2, 1):
        outcomes.append(patch_capacity(client, admin, capacity, line="10K/4").status_code)
    admitting.join()
    with app.app_context():
        bucket = db.session.get(PaceGroup, bucket_id)
        assert bucket.held + bucket.confirmed <= bucket.capacity
    assert set(outcomes) <= {200, 409}
