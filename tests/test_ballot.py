"""The ballot: entries in a window, a committed and recomputable draw, offers to winners then the reserve."""
import hashlib
from datetime import timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from marathon.blueprints.fairplay import proof
from marathon.blueprints.lines.models import BallotEntry
from marathon.blueprints.races.models import Race
from marathon.extensions import db
from tests.factories import bucket, run_rounds
from tests.race_specs import create, race_spec
from tests.support.api import confirm, join, order

SLUG = "spring-10k"


def ballot_spec(clock, **overrides):
    """A ballot race: entries from 1 minute to 1 hour from now, offers good for 24 hours."""
    start = clock.now().replace(microsecond=0)
    return race_spec(clock, opens_in=timedelta(hours=1), sale_mode="ballot",
                     ballot_opens_at=(start + timedelta(minutes=1)).isoformat(),
                     ballot_closes_at=(start + timedelta(hours=1)).isoformat(), offer_hours=24, **overrides)


def enter(client, headers, course="10K", pace_group="5"):
    return client.post(f"/api/v1/races/{SLUG}/ballot", json={"course": course, "pace_group": pace_group},
                       headers=headers)


def mine(client, headers):
    return client.get(f"/api/v1/races/{SLUG}/ballot/me", headers=headers)


def recompute(draw):
    """The README's recomputation, from the published draw only."""
    assert hashlib.sha256(draw["seed"].encode()).hexdigest() == draw["commitment"]
    every = sorted(entry for bucket in draw["buckets"] for entry in bucket["order"])
    assert hashlib.sha256(",".join(map(str, every)).encode()).hexdigest() == draw["entries_digest"]
    for bucket in draw["buckets"]:
        key = lambda entry: hashlib.sha256(f"{draw['seed']}:{bucket['line']}:{entry}".encode()).hexdigest()  # noqa: E731
        assert bucket["order"] == sorted(bucket["order"], key=key)


def test_spec_fields_are_validated_by_name(client, users, clock):
    admin = users.admin_headers()
    spec = ballot_spec(clock)
    spec["ballot_closes_at"] = spec["ballot_opens_at"]
    response = client.post("/api/v1/admin/races", json=spec, headers=admin)
    assert response.status_code == 422 and "ballot_closes_at" in response.get_json()["message"]
    spec = race_spec(clock, offer_hours=3)
    response = client.post("/api/v1/admin/races", json=spec, headers=admin)
    assert response.status_code == 422 and "offer_hours" in response.get_json()["message"]
    spec = race_spec(clock, sale_mode="ballot")
    response = client.post("/api/v1/admin/races", json=spec, headers=admin)
    assert response.status_code == 422 and "ballot_opens_at" in response.get_json()["message"]


def test_a_ballot_from_entries_to_offers_paid_and_passed_to_the_reserve(app, client, users, clock, fake, runner):
    create(client, users.admin_headers(), ballot_spec(clock))
    detail = client.get(f"/api/v1/races/{SLUG}").get_json()
    assert detail["sale_mode"] == "ballot" and len(detail["commitment"]) == 64
    runners = [users.headers() for _ in range(5)]
    assert enter(client, runners[0]).get_json()["reason"] == "ballot_not_open"

    clock.advance(120)
    entries = []
    for headers in runners:
        response = enter(client, headers)
        assert response.status_code == 202, response.get_json()
        body = response.get_json()
        assert body["status"] == "entered" and body["line"] == "10K/5"
        entries.append(body["entry_id"])
    assert enter(client, runners[0]).get_json()["reason"] == "already_entered"
    assert enter(client, users.headers(), pace_group="9").status_code == 422
    assert join(client, runners[0], race=SLUG).get_json()["reason"] == "sale_not_open"
    not_drawn = client.get(f"/api/v1/races/{SLUG}/draw")
    assert not_drawn.status_code == 404
    assert not_drawn.get_json()["reason"] == "not_drawn"
    assert not_drawn.get_json()["commitment"] == detail["commitment"]

    # one runner withdraws and enters again in another bucket; another enters the 5K
    assert client.delete(f"/api/v1/races/{SLUG}/ballot/me", headers=runners[4]).status_code == 204
    assert mine(client, runners[4]).get_json()["status"] == "withdrawn"
    assert enter(client, runners[4], course="5K", pace_group="6").status_code == 202
    assert mine(client, runners[0]).get_json() == {"status": "entered", "line": "10K/5", "entry_id": entries[0],
                                                   "rank": None, "hold": None, "capacity": 3}

    clock.advance(3600)
    with app.app_context():
        run_rounds(1)
    draw = client.get(f"/api/v1/races/{SLUG}/draw").get_json()
    recompute(draw)
    ten = next(bucket for bucket in draw["buckets"] if bucket["line"] == "10K/5")
    assert sorted(ten["order"]) == sorted(entries[:4]) and ten["capacity"] == 3
    assert client.delete(f"/api/v1/races/{SLUG}/ballot/me", headers=runners[0]).get_json()["reason"] == \
        "ballot_closed"
    # idempotent: the CLI leaves a drawn race as it is
    with app.app_context():
        assert "already drawn" in runner.invoke(args=["race", "draw", SLUG]).output
    assert client.get(f"/api/v1/races/{SLUG}/draw").get_json() == draw

    by_entry = dict(zip(entries, runners))
    winners = [by_entry[entry] for entry in ten["order"][:3]]
    reserve = by_entry[ten["order"][3]]
    views = [mine(client, headers).get_json() for headers in winners]
    assert [view["status"] for view in views] == ["won"] * 3
    assert [view["rank"] for view in views] == [1, 2, 3]
    assert mine(client, reserve).get_json()["status"] == "reserve"
    assert mine(client, reserve).get_json()["rank"] == 4

    # the first winner pays through the same order and confirm as a line's runner
    opened = order(client, winners[0], views[0]["hold"])
    assert opened.status_code == 201, opened.get_json()
    paid = confirm(client, winners[0], opened.get_json()["order_id"])
    assert paid.status_code == 200, paid.get_json()
    assert mine(client, winners[0]).get_json()["status"] == "confirmed"

    # the others let their offers run out: the reserve gets the place, by the workers
    clock.advance(24 * 3600 + 1)
    with app.app_context():
        run_rounds(2)
    assert mine(client, winners[1]).get_json()["status"] == "expired"
    offered = mine(client, reserve).get_json()
    assert offered["status"] == "offered" and offered["hold"]["amount"] == 50000
    stats = client.get(f"/api/v1/admin/races/{SLUG}/stats", headers=users.admin_headers()).get_json()
    row = next(bucket for bucket in stats["buckets"] if bucket["line"] == "10K/5")
    assert {name: row[name] for name in ("entries", "winners", "offers_open", "paid", "expired", "waitlist")} == \
        {"entries": 4, "winners": 3, "offers_open": 1, "paid": 1, "expired": 2, "waitlist": 0}
    assert row["held"] == 1 and row["confirmed"] == 1
    csv_text = client.get(f"/api/v1/admin/races/{SLUG}/registrations.csv", headers=users.admin_headers()).text
    assert csv_text.splitlines()[0].endswith(",source") and csv_text.splitlines()[1].endswith(",ballot")


def test_an_entry_needs_the_races_proof_of_work_once(app, client, users, clock):
    create(client, users.admin_headers(), ballot_spec(clock, pow_difficulty=2000))
    clock.advance(120)
    headers = users.headers()
    missing = enter(client, headers)
    assert missing.status_code == 400 and missing.get_json()["reason"] == "bad_pow"
    payload = proof.solve(client.get(f"/api/v1/races/{SLUG}/pow", headers=headers).get_json())
    body = {"course": "10K", "pace_group": "5", "pow": payload}
    assert client.post(f"/api/v1/races/{SLUG}/ballot", json=body, headers=headers).status_code == 202
    other = users.headers()
    stolen = client.post(f"/api/v1/races/{SLUG}/ballot", json=body, headers=other)
    assert stolen.status_code == 400 and stolen.get_json()["reason"] == "bad_pow"


def test_the_database_holds_one_entry_per_person_per_race(app, client, users, clock):
    race = create(client, users.admin_headers(), ballot_spec(clock))
    user = users.signup()
    with app.app_context():
        found = db.session.get(Race, race["id"])
        first = BallotEntry(race_id=found.id, bucket_id=bucket(found).id, user_id=user["id"], entered_at=clock.now())
        db.session.add(first)
        db.session.commit()
        db.session.add(BallotEntry(race_id=found.id, bucket_id=bucket(found, "5K", "6").id, user_id=user["id"],
                                   entered_at=clock.now()))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
