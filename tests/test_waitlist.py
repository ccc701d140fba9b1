"""The waitlist of a sold-out bucket: freed places become offers to its head, never to a new join."""
from tests.factories import run_rounds
from tests.support.api import admitted, confirm, join, me, order


def waitlist(client, headers, course="10K", pace_group="5"):
    return client.post("/api/v1/races/test-race/waitlist", json={"course": course, "pace_group": pace_group},
                       headers=headers)


def seat(client, headers):
    return client.get("/api/v1/races/test-race/waitlist/me", headers=headers)


def sold_out_race(app, client, users, clock):
    """A one-place bucket whose place is paid: returns the registered runner's headers and registration id."""
    (buyer,), (hold,) = admitted(app, client, users, clock, runners=1, capacity=1)
    early = users.headers()
    assert waitlist(client, early).get_json()["reason"] == "not_sold_out"
    paid = confirm(client, buyer, order(client, buyer, hold).get_json()["order_id"])
    assert paid.status_code == 200, paid.get_json()
    with app.app_context():
        run_rounds(1)
    return buyer, paid.get_json()["registration"]["id"], early


def test_freed_places_go_to_the_waitlist_in_order(app, client, users, clock, fake):
    buyer, registration_id, first = sold_out_race(app, client, users, clock)
    second = users.headers()
    assert waitlist(client, buyer).get_json()["reason"] == "already_registered"
    joined = waitlist(client, first)
    assert joined.status_code == 202, joined.get_json()
    assert joined.get_json() == {"status": "waiting", "line": "10K/5", "position": 1, "hold": None}
    assert waitlist(client, second).get_json()["position"] == 2
    assert waitlist(client, second).get_json()["reason"] == "already_waitlisted"
    assert waitlist(client, users.headers(), pace_group="9").status_code == 422

    # a cancellation frees the place: it goes to the head of the waitlist, never to a new join
    assert client.post(f"/api/v1/registrations/{registration_id}/cancel", headers=buyer).status_code == 200
    newcomer = users.headers()
    refused = join(client, newcomer)
    assert refused.status_code == 409 and refused.get_json()["reason"] == "sold_out"
    with app.app_context():
        run_rounds(2)
    offered = seat(client, first).get_json()
    assert offered["status"] == "offered" and offered["hold"]["amount"] == 50000
    assert seat(client, second).get_json() == {"status": "waiting", "line": "10K/5", "position": 1, "hold": None}

    # the offer runs out unpaid (the race's hold_seconds): the next on the waitlist gets it
    clock.advance(601)
    with app.app_context():
        run_rounds(2)
    assert seat(client, first).get_json()["status"] == "expired"
    offer = seat(client, second).get_json()
    assert offer["status"] == "offered"
    paid = confirm(client, second, order(client, second, offer["hold"]).get_json()["order_id"])
    assert paid.status_code == 200, paid.get_json()
    assert seat(client, second).get_json()["status"] == "confirmed"
    assert me(client, second).get_json()["status"] == "confirmed"
    with app.app_context():
        run_rounds(1)  # the stats' held and confirmed are the Redis mirrors, refreshed by the round
    stats = client.get("/api/v1/admin/races/test-race/stats", headers=users.admin_headers()).get_json()
    row = stats["buckets"][0]
    assert (row["confirmed"], row["held"], row["paid"], row["expired"], row["waitlist"]) == (1, 0, 1, 1, 0)
    csv_lines = client.get("/api/v1/admin/races/test-race/registrations.csv",
                           headers=users.admin_headers()).text.splitlines()
    assert [line.rsplit(",", 1)[1] for line in csv_lines[1:]] == ["line", "waitlist"]


def test_leaving_the_waitlist_and_an_empty_waitlist_gives_the_place_back_to_the_line(app, client, users, clock,
                                                                                      fake):
    buyer, registration_id, first = sold_out_race(app, client, users, clock)
    assert waitlist(client, first).status_code == 202
    assert client.delete("/api/v1/races/test-race/waitlist/me", headers=first).status_code == 204
    assert seat(client, first).get_json()["status"] == "left"
    assert client.delete("/api/v1/races/test-race/waitlist/me", headers=first).status_code == 404
    with app.app_context():
        run_rounds(1)
    assert client.post(f"/api/v1/registrations/{registration_id}/cancel", headers=buyer).status_code == 200
    newcomer = users.headers()
    assert join(client, newcomer).status_code == 202
    with app.app_context():
        run_rounds(2)
    clock.advance(30)
    assert me(client, newcomer).get_json()["status"] == "admitted"
