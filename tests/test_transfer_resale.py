"""Transfers do not feed resale (issue 14, item 8): one transfer given per account and race, the sender cannot join
that race's line again, and an order is readable and refundable by its owner only."""
import pytest
from sqlalchemy import select

from marathon.blueprints.payment.models import Order, Refund
from marathon.blueprints.registrations.models import Registration
from marathon.extensions import db
from tests.factories import make_race
from tests.support.api import join, me, order, paid, transfer


@pytest.fixture
def race(app, clock):
    with app.app_context():
        return make_race(clock, opens_in_s=-1, buckets=(("10K", "5", 5),)).id


def hold_of(app, registration_id):
    with app.app_context():
        registration = db.session.get(Registration, registration_id)
        return {"id": registration.hold_id}


def test_the_recipient_cannot_read_the_senders_order(app, client, users, clock, fake, race):
    seller, seller_headers, registration_id = paid(app, client, users, clock)
    buyer = users.signup()
    buyer_headers = users.headers(buyer["email"])
    with app.app_context():
        sellers_order = db.session.execute(select(Order.order_id)).scalar_one()
    assert transfer(client, seller_headers, registration_id, buyer["email"]).status_code == 200
    read = order(client, buyer_headers, hold_of(app, registration_id))
    assert read.status_code == 404 and read.get_json()["reason"] == "hold_not_found", read.get_json()
    assert sellers_order not in str(read.get_json())
    assert client.get(f"/api/v1/payments/{sellers_order}", headers=buyer_headers).status_code == 404


def test_the_sender_cannot_join_the_race_again(app, client, users, clock, fake, race):
    _seller, seller_headers, registration_id = paid(app, client, users, clock)
    buyer = users.signup()
    assert transfer(client, seller_headers, registration_id, buyer["email"]).status_code == 200
    again = join(client, seller_headers)
    assert again.status_code == 409 and again.get_json()["reason"] == "transferred_away", again.get_json()
    clock.advance(30)
    assert me(client, seller_headers).get_json()["status"] == "left"


def test_the_sender_stays_away_after_the_line_is_rebuilt(app, client, users, clock, fake, race):
    from marathon.admission.journal import reconcile
    from marathon.blueprints.lines.keys import RaceKeys
    from marathon.blueprints.races import services as races
    from marathon.extensions import redis_store

    seller, seller_headers, registration_id = paid(app, client, users, clock)
    buyer = users.signup()
    assert transfer(client, seller_headers, registration_id, buyer["email"]).status_code == 200
    with app.app_context():
        redis_store.client.hdel(RaceKeys(race).who, seller["id"])
        reconcile(races.get_race(race))
    assert join(client, seller_headers).get_json()["reason"] == "transferred_away"


def test_one_transfer_given_per_account_and_race(app, client, users, clock, fake, race):
    first, first_headers, first_registration = paid(app, client, users, clock)
    second, second_headers, second_registration = paid(app, client, users, clock)
    buyer, last = users.signup(), users.signup()
    assert transfer(client, first_headers, first_registration, buyer["email"]).status_code == 200
    # the first seller receives a bib back from someone else, and may not pass it on: one transfer given per race
    assert transfer(client, second_headers, second_registration, first["email"]).status_code == 200
    refused = transfer(client, first_headers, second_registration, last["email"])
    assert refused.status_code == 409 and refused.get_json()["reason"] == "transfer_limit", refused.get_json()
    # the recipient of a transfer has given none: they may pass it on once
    assert transfer(client, users.headers(buyer["email"]), first_registration, last["email"]).status_code == 200


def test_a_recipients_cancel_frees_the_place_and_refunds_nobody(app, client, users, clock, fake, race):
    seller, seller_headers, registration_id = paid(app, client, users, clock)
    buyer = users.signup()
    buyer_headers = users.headers(buyer["email"])
    assert transfer(client, seller_headers, registration_id, buyer["email"]).status_code == 200
    cancelled = client.post(f"/api/v1/registrations/{registration_id}/cancel", headers=buyer_headers)
    assert cancelled.status_code == 200, cancelled.get_json()
    assert cancelled.get_json() == {"status": "cancelled", "refund": {"amount": 0, "status": "none"}}
    again = client.post(f"/api/v1/registrations/{registration_id}/cancel", headers=buyer_headers)
    assert again.get_json() == cancelled.get_json()
    assert fake.refunds() == 0
    with app.app_context():
        assert db.session.execute(select(Refund)).scalars().all() == []
        assert db.session.execute(select(Order.status)).scalars().all() == ["paid"]
        assert db.session.get(Registration, registration_id).status == "cancelled"


def test_the_owner_still_gets_their_refund(app, client, users, clock, fake, race):
    _runner, headers, registration_id = paid(app, client, users, clock)
    cancelled = client.post(f"/api/v1/registrations/{registration_id}/cancel", headers=headers)
    assert cancelled.get_json() == {"status": "cancelled", "refund": {"amount": 50000, "status": "done"}}
    assert fake.refunds() == 1
