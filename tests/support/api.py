"""The runner's calls as the tests make them: join, status, leave, and paying for a hold."""
from sqlalchemy import select

from marathon.blueprints.races.models import PaceGroup
from marathon.extensions import db
from tests.factories import make_race, run_rounds


def join(client, headers, race="test-race", course="10K", pace_group="5", pow_payload=None):
    body = {"course": course, "pace_group": pace_group}
    if pow_payload is not None:
        body["pow"] = pow_payload
    return client.post(f"/api/v1/races/{race}/queue", json=body, headers=headers)


def me(client, headers, race="test-race"):
    return client.get(f"/api/v1/races/{race}/queue/me", headers=headers)


def admitted(app, client, users, clock, runners=1, capacity=3, hold_seconds=600):
    """Runners who joined the line of a fresh race and were admitted by the workers: (headers, holds)."""
    with app.app_context():
        make_race(clock, opens_in_s=-1, buckets=(("10K", "5", capacity),), hold_seconds=hold_seconds)
    headers = [users.headers() for _ in range(runners)]
    for runner in headers:
        assert join(client, runner).status_code == 202
    with app.app_context():
        run_rounds(2)
    clock.advance(10)
    holds = [me(client, runner).get_json()["hold"] for runner in headers]
    assert all(holds), holds
    return headers, holds


def order(client, headers, hold):
    return client.post("/api/v1/payments", json={"hold_id": hold["id"]}, headers=headers)


def confirm(client, headers, order_id, payment_key="fake_ok", amount=50000, **extra):
    return client.post(f"/api/v1/payments/{order_id}/confirm",
                       json={"payment_key": payment_key, "amount": amount, **extra}, headers=headers)


def bucket_counts(app):
    """(held, confirmed) of the race's only bucket, from the database."""
    with app.app_context():
        group = db.session.execute(select(PaceGroup)).scalar_one()
        return group.held, group.confirmed


def paid(app, client, users, clock):
    """A runner who joined, was admitted and paid: (user, headers, registration id)."""
    user = users.signup()
    headers = users.headers(user["email"])
    assert join(client, headers).status_code == 202
    with app.app_context():
        run_rounds(2)
    clock.advance(10)
    hold = me(client, headers).get_json()["hold"]
    order_id = order(client, headers, hold).get_json()["order_id"]
    answer = confirm(client, headers, order_id)
    assert answer.status_code == 200, answer.get_json()
    return user, headers, answer.get_json()["registration"]["id"]


def transfer(client, headers, registration_id, to_email):
    return client.post(f"/api/v1/registrations/{registration_id}/transfer", headers=headers,
                       json={"to_email": to_email, "blood_type": "O+", "emergency_contact": "Mother 010-5555-0101"})
