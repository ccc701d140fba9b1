"""Named bibs and the official transfer; one person, one place, whatever the path."""
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from marathon.blueprints.races import services as races
from marathon.blueprints.registrations import services
from marathon.blueprints.registrations.models import Hold, Registration, Transfer
from marathon.extensions import db
from tests.factories import make_race, run_rounds
from tests.support.api import join, me

RACE = "test-race"


def register(app, client, users, clock, user=None):
    """A runner through the line to a paid registration; returns (user, headers, registration id)."""
    user = user or users.signup()
    headers = users.headers(user["email"])
    assert join(client, headers).status_code == 202
    with app.app_context():
        run_rounds(2)
    clock.advance(10)
    hold = me(client, headers).get_json()["hold"]
    with app.app_context():
        registration = services.confirm_hold(hold["id"], user["id"])
        return user, headers, registration.id


def transfer(client, headers, registration_id, to_email, blood_type="O+", contact="Mother 010-5555-0101"):
    return client.post(f"/api/v1/registrations/{registration_id}/transfer", headers=headers,
                       json={"to_email": to_email, "blood_type": blood_type, "emergency_contact": contact})


@pytest.fixture
def race(app, clock):
    with app.app_context():
        return make_race(clock, opens_in_s=-1, buckets=(("10K", "5", 5),)).id


def test_transfer_keeps_the_bib_and_names_the_new_runner(app, client, users, clock, race):
    seller, seller_headers, registration_id = register(app, client, users, clock)
    buyer = users.signup(name="Kim Minji")
    buyer_headers = users.headers(buyer["email"])
    before = client.get(f"/api/v1/registrations/{registration_id}", headers=seller_headers).get_json()

    moved = transfer(client, seller_headers, registration_id, buyer["email"].upper(), "AB-", "Lee 010-2222-3333")
    assert moved.status_code == 200, moved.get_json()
    after = moved.get_json()
    assert after["bib"] == before["bib"] and after["id"] == registration_id and after["status"] == "confirmed"
    assert after["runner_name"] == "Kim Minji" and after["blood_type"] == "AB-"
    assert after["emergency_contact"] == "Lee 010-2222-3333"

    # the registration is the buyer's now, and only the buyer's
    assert client.get(f"/api/v1/registrations/{registration_id}", headers=seller_headers).status_code == 404
    assert client.get("/api/v1/registrations", headers=seller_headers).get_json() == []
    assert [r["id"] for r in client.get("/api/v1/registrations", headers=buyer_headers).get_json()] == [registration_id]
    assert transfer(client, seller_headers, registration_id, seller["email"]).status_code == 404

    with app.app_context():
        record = db.session.execute(select(Transfer)).scalar_one()
        assert (record.registration_id, record.from_user_id, record.to_user_id) == (
            registration_id, seller["id"], buyer["id"])
        assert record.from_name == seller["name"] and record.to_name == "Kim Minji" and record.at
        registration = db.session.get(Registration, registration_id)
        assert db.session.get(Hold, registration.hold_id).user_id == buyer["id"]

    # Redis: the buyer is registered (cannot join the line), the seller's place has ended as transferred (issue 14,
    # item 8: a seller may not queue for the same race again)
    clock.advance(30)
    assert me(client, buyer_headers).get_json()["status"] == "confirmed"
    assert join(client, buyer_headers).get_json()["reason"] == "already_registered"
    assert me(client, seller_headers).get_json()["status"] == "left"
    assert join(client, seller_headers).get_json()["reason"] == "transferred_away"


def test_transfer_refusals(app, client, users, clock, race):
    _seller, seller_headers, registration_id = register(app, client, users, clock)
    holder, _holder_headers, _other_registration = register(app, client, users, clock)
    waiting = users.signup()
    assert join(client, users.headers(waiting["email"])).status_code == 202
    free = users.signup()

    unknown = transfer(client, seller_headers, registration_id, "nobody@example.com")
    assert unknown.status_code == 404 and unknown.get_json()["reason"] == "unknown_recipient"
    for recipient in (holder, waiting):
        refused = transfer(client, seller_headers, registration_id, recipient["email"])
        assert refused.status_code == 409 and refused.get_json()["reason"] == "recipient_registered"
    bad_blood = transfer(client, seller_headers, registration_id, free["email"], blood_type="Z")
    assert bad_blood.status_code == 422
    someone_else = users.headers(free["email"])
    assert transfer(client, someone_else, registration_id, free["email"]).status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count(Transfer.id))) == 0
    # the waiting runner is still waiting: the refused transfer left their place alone
    clock.advance(10)
    assert me(client, users.headers(waiting["email"])).get_json()["status"] in ("waiting", "admitted")


def test_transfer_deadline(app, client, users, clock, race):
    _seller, seller_headers, registration_id = register(app, client, users, clock)
    buyer = users.signup()
    with app.app_context():
        race_row = races.get_race(RACE)
        deadline = race_row.transfer_until
    clock.set(deadline + timedelta(seconds=1))
    closed = transfer(client, seller_headers, registration_id, buyer["email"])
    assert closed.status_code == 409 and closed.get_json()["reason"] == "transfer_closed"
    clock.set(deadline)
    assert transfer(client, seller_headers, registration_id, buyer["email"]).status_code == 200


def test_a_second_account_of_the_same_person_is_refused(client, users):
    users.signup(name="Park Jisoo", phone="010-1234-5678", birth_date="1988-02-03")
    again = client.post("/api/v1/auth/signup", json={
        "email": "another.address@example.com", "password": "a different password", "name": " park  JISOO ",
        "birth_date": "1988-02-03", "phone": "+82 10 1234 5678"})
    assert again.status_code == 409 and again.get_json()["reason"] == "identity_taken"


def test_the_database_refuses_a_second_place_for_one_person(app, client, users, clock, race):
    user, _headers, registration_id = register(app, client, users, clock)
    with app.app_context():
        registration = db.session.get(Registration, registration_id)
        db.session.add(Hold(race_id=registration.race_id, bucket_id=registration.bucket_id, user_id=user["id"],
                            arrival=999, status="active", amount=1, expires_at=clock.now() + timedelta(minutes=5)))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


def test_cancel_while_rejoining_never_ends_with_two_places(app, client, users, clock, race):
    """A runner cancels while the same runner hammers the join: at most one live place at any time, and at the end."""
    for _attempt in range(3):
        user, headers, registration_id = register(app, client, users, clock)
        answers = []
        stop = threading.Event()

        def rejoin():
            own_client = app.test_client()
            after_cancel = 0
            while after_cancel < 5:
                after_cancel += stop.is_set()
                answers.append(join(own_client, headers).status_code)
                if answers[-1] == 202:
                    return

        joiner = threading.Thread(target=rejoin)
        joiner.start()
        with app.app_context():
            services.cancel_registration(registration_id, actor=f"runner {user['id']}", user_id=user["id"])
        stop.set()
        joiner.join()
        # the admissions that follow may give the rejoined runner a new place: never a second one
        with app.app_context():
            run_rounds(2)
            live = db.session.scalar(select(func.count(Hold.id)).where(
                Hold.user_id == user["id"], Hold.status.in_(("active", "confirmed"))))
            registered = db.session.scalar(select(func.count(Registration.id)).where(
                Registration.user_id == user["id"], Registration.status == "confirmed"))
            assert live <= 1 and registered == 0
            assert db.session.get(Registration, registration_id).status == "cancelled"
        assert 202 in answers and answers.count(202) == 1
        clock.advance(10)
        assert me(client, headers).get_json()["status"] in ("waiting", "admitted")


def test_registration_views_are_the_callers_own(app, client, users, clock, race):
    _user, headers, registration_id = register(app, client, users, clock)
    mine = client.get(f"/api/v1/registrations/{registration_id}", headers=headers)
    assert mine.status_code == 200
    body = mine.get_json()
    assert {"id", "race", "course", "pace_group", "corral", "bib", "status"} <= set(body)
    assert body["race"] == RACE and body["course"] == "10K" and body["status"] == "confirmed"
    stranger = users.headers()
    assert client.get(f"/api/v1/registrations/{registration_id}", headers=stranger).status_code == 404
    assert client.get("/api/v1/registrations/99999", headers=stranger).status_code == 404
    assert client.get("/api/v1/registrations").status_code == 401
