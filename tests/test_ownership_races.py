"""A sender racing their own transfer against a cancel, a second transfer or an edit, with real threads against the
real database: once the registration is the recipient's, nothing the sender does reaches it (issue 14, item 3)."""
import threading

import pytest
from sqlalchemy import select

from marathon.blueprints.payment.models import Order, Refund
from marathon.blueprints.registrations import services
from marathon.blueprints.registrations.models import Registration
from marathon.extensions import db
from tests.factories import make_race
from tests.support.api import join, me, paid, transfer


@pytest.fixture
def race(app, clock):
    with app.app_context():
        return make_race(clock, opens_in_s=-1, buckets=(("10K", "5", 5),)).id


def interleaved(app, monkeypatch, late_request, transfer_request):
    """`late_request` reads the registration as its sender's, then waits while `transfer_request` moves it to the
    recipient, then goes on: the interleaving the review hit 1 time in 6. Real threads, each with its own client."""
    read, moved = threading.Event(), threading.Event()
    original = services.registration_of

    def slow_registration_of(registration_id, user_id):
        found = original(registration_id, user_id)
        if threading.current_thread().name == "late" and not read.is_set():
            read.set()
            moved.wait(10)
        return found

    monkeypatch.setattr(services, "registration_of", slow_registration_of)
    answers, errors = {}, []

    def run(name, request, before=None, after=None):
        try:
            with app.app_context():
                client = app.test_client()
                if before:
                    before.wait(10)
                answers[name] = request(client)
                if after:
                    after.set()
        except Exception as error:  # surfaced below
            errors.append(error)
            read.set()
            moved.set()

    threads = [threading.Thread(target=run, name="late", args=("late", late_request)),
               threading.Thread(target=run, name="transfer", args=("transfer", transfer_request, read, moved))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    assert answers["transfer"].status_code == 200, answers["transfer"].get_json()
    return answers["late"]


def test_a_cancel_racing_the_senders_transfer_never_cancels_the_recipients_bib(
        app, client, users, clock, fake, race, monkeypatch):
    seller, seller_headers, registration_id = paid(app, client, users, clock)
    buyer = users.signup()
    late = interleaved(
        app, monkeypatch,
        lambda c: c.post(f"/api/v1/registrations/{registration_id}/cancel", headers=seller_headers),
        lambda c: transfer(c, seller_headers, registration_id, buyer["email"]))
    assert late.status_code in (404, 409), late.get_json()
    with app.app_context():
        registration = db.session.get(Registration, registration_id)
        assert (registration.user_id, registration.status, registration.cancelled_by) == (buyer["id"], "confirmed", None)
        assert db.session.execute(select(Refund)).scalars().all() == []
        assert db.session.execute(select(Order.status)).scalars().all() == ["paid"]
    assert fake.refunds() == 0


def test_an_edit_racing_the_senders_transfer_never_rewrites_the_recipients_bib(
        app, client, users, clock, fake, race, monkeypatch):
    _seller, seller_headers, registration_id = paid(app, client, users, clock)
    buyer = users.signup()
    late = interleaved(
        app, monkeypatch,
        lambda c: c.patch(f"/api/v1/registrations/{registration_id}", headers=seller_headers,
                          json={"blood_type": "AB-", "emergency_contact": "the seller's friend"}),
        lambda c: transfer(c, seller_headers, registration_id, buyer["email"]))
    assert late.status_code == 404, late.get_json()
    with app.app_context():
        registration = db.session.get(Registration, registration_id)
        assert (registration.user_id, registration.blood_type, registration.emergency_contact) == (
            buyer["id"], "O+", "Mother 010-5555-0101")


def test_a_second_transfer_racing_the_first_never_moves_the_recipients_bib(
        app, client, users, clock, fake, race, monkeypatch):
    app.config["TRANSFERS_PER_RACE"] = 2  # past the cap's check: the UPDATE's owner is what refuses it
    _seller, seller_headers, registration_id = paid(app, client, users, clock)
    buyer, other = users.signup(), users.signup()
    late = interleaved(
        app, monkeypatch,
        lambda c: transfer(c, seller_headers, registration_id, other["email"]),
        lambda c: transfer(c, seller_headers, registration_id, buyer["email"]))
    assert late.status_code in (404, 409), late.get_json()
    with app.app_context():
        assert db.session.get(Registration, registration_id).user_id == buyer["id"]
        assert services.registrations_of(other["id"]) == []
    # the other runner's claim on the bib was undone in Redis: they may join the line
    other_headers = users.headers(other["email"])
    assert me(client, other_headers).get_json()["status"] == "left"
    assert join(client, other_headers).status_code == 202
