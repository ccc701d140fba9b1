"""The join and the status poll are answered in front of Flask, with the same answers, errors and limits."""
from tests.factories import make_race
from tests.support.api import join, me


def test_status_poll_skips_flask_with_per_address_limits_off_or_on(app, client, users, clock):
    seen_by_flask = []
    app.before_request(lambda: seen_by_flask.append(1) and None)
    with app.app_context():
        make_race(clock, opens_in_s=-1)
    headers, stranger = users.headers(), users.headers()
    join(client, headers)
    before = len(seen_by_flask)
    clock.advance(10)
    fast = me(client, headers)
    assert fast.status_code == 200 and fast.get_json()["status"] == "waiting" and fast.get_json()["position"] == 1
    assert fast.headers["Content-Type"] == "application/json"
    too_soon = me(client, headers)
    assert too_soon.status_code == 429 and too_soon.headers["Retry-After"]
    assert too_soon.get_json()["reason"] == "too_soon" and too_soon.get_json()["code"] == 429
    assert me(client, {}).get_json()["reason"] == "token_missing"
    assert me(client, stranger, race="nowhere").status_code == 404
    assert me(client, stranger).get_json()["reason"] == "not_in_line"
    assert len(seen_by_flask) == before

    # per-address limits are counted in the same round trip: the poll still skips Flask
    app.config["RATE_LIMIT_BY_IP"] = True
    clock.advance(10)
    limited = me(client, headers)
    assert limited.status_code == 200 and limited.get_json()["position"] == 1
    assert len(seen_by_flask) == before


def test_well_formed_joins_skip_flask_and_the_rest_get_its_answers(app, client, users, clock):
    seen_by_flask = []
    app.before_request(lambda: seen_by_flask.append(1) and None)
    with app.app_context():
        make_race(clock, opens_in_s=-1)
    first, second = users.headers(), users.headers()
    before = len(seen_by_flask)
    joined = join(client, first)
    assert joined.status_code == 202 and joined.get_json()["line"] == "10K/5" and joined.get_json()["position"] == 1
    again = join(client, first)
    assert again.status_code == 409 and again.get_json()["reason"] == "already_in_line"
    assert join(client, {}).get_json()["reason"] == "token_missing"
    unknown = join(client, second, pace_group="9")
    assert unknown.status_code == 422 and "pace_group" in unknown.get_json()["errors"]["json"]
    assert len(seen_by_flask) == before
    # a body the schema would change or refuse is Flask's: the same 422 as ever
    missing = client.post("/api/v1/races/test-race/queue", json={"course": "10K"}, headers=second)
    assert missing.status_code == 422 and "pace_group" in missing.get_json()["errors"]["json"]
    not_json = client.post("/api/v1/races/test-race/queue", data="course=10K", headers=second)
    assert not_json.status_code in (415, 422)
    assert len(seen_by_flask) == before + 2
