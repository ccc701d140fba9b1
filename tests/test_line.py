"""The waiting line through the HTTP API: join, status, leave, lobby, admission, expiry and sold out."""
from marathon.blueprints.races.models import PaceGroup
from marathon.blueprints.registrations import services
from marathon.blueprints.registrations.models import Hold
from marathon.extensions import db
from tests.factories import bucket, make_race, run_rounds
from tests.support.api import join, me


def test_join_then_status_then_leave(app, client, users, clock):
    with app.app_context():
        make_race(clock, opens_in_s=-1)
    first, second = users.headers(), users.headers()
    joined = join(client, first)
    assert joined.status_code == 202, joined.get_json()
    body = joined.get_json()
    assert body["status"] == "waiting" and body["line"] == "10K/5" and body["position"] == 1 and body["ahead"] == 0
    assert body["arrival"] == 1 and body["retry_after_s"] >= 1
    assert join(client, second).get_json()["arrival"] == 2

    clock.advance(10)
    status = me(client, second).get_json()
    assert status["status"] == "waiting" and status["position"] == 2 and status["ahead"] == 1

    again = join(client, first)
    assert again.status_code == 409 and again.get_json()["reason"] == "already_in_line"

    assert client.delete("/api/v1/races/test-race/queue/me", headers=first).status_code == 204
    clock.advance(5)
    assert me(client, second).get_json()["position"] == 1
    left = me(client, first).get_json()
    assert left["status"] == "left"
    assert client.delete("/api/v1/races/test-race/queue/me", headers=first).status_code == 404


def test_join_refusals(app, client, users, clock):
    with app.app_context():
        make_race(clock, opens_in_s=3600, lobby_minutes=10)
    headers = users.headers()
    early = join(client, headers)
    assert early.status_code == 403 and early.get_json()["reason"] == "sale_not_open"
    assert join(client, headers, race="no-such-race").status_code == 404
    clock.advance(3600)
    unknown = join(client, headers, pace_group="9")
    assert unknown.status_code == 422 and "pace_group" in unknown.get_json()["errors"]["json"]
    assert join(client, headers, course="FULL").status_code == 422
    assert client.post("/api/v1/races/test-race/queue", json={"course": "10K"}, headers=headers).status_code == 422
    assert join(client, {}).status_code == 401
    assert me(client, headers).status_code == 404 and me(client, headers).get_json()["reason"] == "not_in_line"


def test_status_sooner_than_retry_after_is_429(app, client, users, clock):
    with app.app_context():
        make_race(clock, opens_in_s=-1)
    headers = users.headers()
    retry = join(client, headers).get_json()["retry_after_s"]
    too_soon = me(client, headers)
    assert too_soon.status_code == 429 and int(too_soon.headers["Retry-After"]) >= 1
    clock.advance(retry)
    assert me(client, headers).status_code == 200


def test_admission_holds_payment_and_sold_out(app, client, users, clock):
    with app.app_context():
        race = make_race(clock, opens_in_s=-1, buckets=(("10K", "5", 2),), hold_seconds=20)
        bucket_id = bucket(race).id
    runners = [users.headers() for _ in range(4)]
    for headers in runners:
        assert join(client, headers).status_code == 202
    with app.app_context():
        run_rounds(2)
    # runners whom only an expiring hold can reach are asked to come back in 30 s
    clock.advance(30)
    statuses = [me(client, headers).get_json() for headers in runners]
    assert [s["status"] for s in statuses] == ["admitted", "admitted", "waiting", "waiting"]
    assert statuses[2]["position"] == 1
    hold = statuses[0]["hold"]
    assert hold["amount"] == 50000 and hold["id"]

    with app.app_context():
        user_id = db.session.get(Hold, hold["id"]).user_id
        registration = services.confirm_hold(hold["id"], user_id)
        assert registration.bib == 1 and registration.status == "confirmed"
        assert db.session.get(PaceGroup, bucket_id).confirmed == 1

    # the second runner walks away: the hold, whose clock started when they were told, expires and the next runner
    # is admitted
    clock.advance(30)
    with app.app_context():
        run_rounds(2)
    after = [me(client, headers).get_json() for headers in runners]
    assert [s["status"] for s in after] == ["confirmed", "expired", "admitted", "waiting"]
    with app.app_context():
        third = db.session.get(Hold, after[2]["hold"]["id"])
        services.confirm_hold(third.id, third.user_id)
        run_rounds(1)
    clock.advance(30)
    final = me(client, runners[3]).get_json()
    assert final["status"] == "sold_out"
    newcomer = join(client, users.headers())
    assert newcomer.status_code == 409 and newcomer.get_json()["reason"] == "sold_out"


def test_not_sold_out_while_a_place_is_held(app, client, users, clock):
    with app.app_context():
        make_race(clock, opens_in_s=-1, buckets=(("10K", "5", 1),))
    first, second = users.headers(), users.headers()
    join(client, first)
    join(client, second)
    with app.app_context():
        run_rounds(3)
    clock.advance(30)
    assert me(client, first).get_json()["status"] == "admitted"
    assert me(client, second).get_json()["status"] == "waiting"


def test_idle_runner_is_skipped_and_may_rejoin(app, client, users, clock):
    app.config["LINE_IDLE_SECONDS"] = 30
    with app.app_context():
        make_race(clock, opens_in_s=-1, buckets=(("10K", "5", 1),))
    idle, active = users.headers(), users.headers()
    join(client, idle)
    join(client, active)
    clock.advance(40)
    assert me(client, active).status_code == 200
    with app.app_context():
        run_rounds(2)
    clock.advance(30)  # asked to come back in 30 s while only an expiring hold could reach them
    assert me(client, active).get_json()["status"] == "admitted"
    skipped = me(client, idle).get_json()
    assert skipped["status"] == "expired" and skipped["reason"] == "skipped"
    rejoined = join(client, idle)
    assert rejoined.status_code == 202 and rejoined.get_json()["arrival"] == 3


def test_revoked_token_cannot_join_or_ask(app, client, users, clock):
    with app.app_context():
        make_race(clock, opens_in_s=-1)
    headers = users.headers()
    assert join(client, headers).status_code == 202
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    clock.advance(30)
    assert me(client, headers).get_json()["reason"] == "token_revoked"
    assert join(client, headers).status_code == 401


def test_admission_window_admits_no_more_than_it_allows_at_once(app, client, users, clock):
    app.config["ADMIT_WINDOW_PER_BUCKET"] = 1
    with app.app_context():
        race = make_race(clock, opens_in_s=-1, buckets=(("10K", "5", 3),))
        bucket_id = bucket(race).id
    runners = [users.headers() for _ in range(3)]
    for headers in runners:
        join(client, headers)
    with app.app_context():
        run_rounds(3)
    clock.advance(10)
    first = [me(client, headers).get_json() for headers in runners]
    assert [s["status"] for s in first] == ["admitted", "waiting", "waiting"]
    assert first[1]["retry_after_s"] > 1  # a free place that the window does not open yet is not "yours in a second"
    with app.app_context():
        hold = db.session.get(Hold, first[0]["hold"]["id"])
        services.confirm_hold(hold.id, hold.user_id)
        run_rounds(2)
        assert db.session.get(PaceGroup, bucket_id).held == 1
    clock.advance(10)
    assert [me(client, h).get_json()["status"] for h in runners] == ["confirmed", "admitted", "waiting"]
