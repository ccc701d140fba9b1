"""The status poll is answered in front of Flask when per-address limits are off, with the same answers."""
from tests.factories import make_race
from tests.support.api import join, me


def test_status_poll_skips_flask_only_while_per_address_limits_are_off(app, client, users, clock):
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

    app.config["RATE_LIMIT_BY_IP"] = True
    clock.advance(10)
    slow = me(client, headers)
    assert slow.status_code == 200 and slow.get_json()["position"] == 1
    assert len(seen_by_flask) == before + 1
