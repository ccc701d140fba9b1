"""The runner's payment journey through the HTTP API: order, confirm, decline, late payment, cancel, own data only."""
from datetime import timedelta

from sqlalchemy import func, select

from marathon.blueprints.payment import refunds
from marathon.blueprints.payment.models import Order, Refund
from marathon.blueprints.registrations.models import Registration
from marathon.extensions import db
from tests.support.api import admitted, bucket_counts, confirm, me, order
from tests.factories import run_rounds


def test_journey_from_the_line_to_the_bib(app, client, users, clock, fake):
    (runner,), (hold,) = admitted(app, client, users, clock)
    made = order(client, runner, hold)
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert body["amount"] == 50000 == hold["amount"] and body["currency"] == "KRW"
    assert body["provider"] == "fake" and body["status"] == "pending" and body["order_id"].startswith("ord_")
    assert body["checkout"]["order_id"] == body["order_id"] and body["checkout"]["amount"] == 50000
    again = order(client, runner, hold)
    assert again.status_code == 201 and again.get_json()["order_id"] == body["order_id"]

    paid = confirm(client, runner, body["order_id"], blood_type="O+", emergency_contact="010-2222-3333 (mother)")
    assert paid.status_code == 200, paid.get_json()
    answer = paid.get_json()
    assert answer["order_id"] == body["order_id"] and answer["status"] == "paid"
    assert answer["registration"] == {"id": answer["registration"]["id"], "bib": 1, "course": "10K",
                                      "pace_group": "5", "corral": "A"}
    assert confirm(client, runner, body["order_id"]).get_json() == answer
    assert fake.charges() == 1
    assert bucket_counts(app) == (0, 1)
    assert client.get(f"/api/v1/payments/{body['order_id']}", headers=runner).get_json()["status"] == "paid"
    clock.advance(10)
    assert me(client, runner).get_json()["status"] == "confirmed"
    with app.app_context():
        registration = db.session.get(Registration, answer["registration"]["id"])
        assert (registration.blood_type, registration.emergency_contact) == ("O+", "010-2222-3333 (mother)")
        assert registration.amount_paid == 50000


def test_amount_comes_from_the_server(app, client, users, clock, fake):
    (runner,), (hold,) = admitted(app, client, users, clock)
    sneaky = client.post("/api/v1/payments", json={"hold_id": hold["id"], "amount": 100}, headers=runner)
    assert sneaky.status_code == 422
    order_id = order(client, runner, hold).get_json()["order_id"]
    tampered = confirm(client, runner, order_id, amount=100)
    assert tampered.status_code == 409 and tampered.get_json()["reason"] == "amount_mismatch"
    assert fake.calls == []
    bad_blood = confirm(client, runner, order_id, blood_type="Z")
    assert bad_blood.status_code == 422 and fake.calls == []
    assert confirm(client, runner, order_id).status_code == 200


def test_declined_then_retried_while_the_hold_lasts(app, client, users, clock, fake):
    (runner,), (hold,) = admitted(app, client, users, clock)
    order_id = order(client, runner, hold).get_json()["order_id"]
    declined = confirm(client, runner, order_id, payment_key="fake_decline")
    assert declined.status_code == 402 and declined.get_json()["reason"] == "payment_declined"
    repeated = confirm(client, runner, order_id, payment_key="fake_decline")
    assert repeated.status_code == 402 and len(fake.calls) == 1  # the same answer, not a second attempt
    assert client.get(f"/api/v1/payments/{order_id}", headers=runner).get_json()["status"] == "pending"
    unknown = confirm(client, runner, order_id, payment_key="nonsense")
    assert unknown.status_code == 400 and unknown.get_json()["reason"] == "payment_not_found"
    assert confirm(client, runner, order_id, payment_key="fake_second_card").status_code == 200
    assert fake.charges() == 1 and bucket_counts(app) == (0, 1)


def test_no_money_is_taken_for_an_expired_hold(app, client, users, clock, fake):
    (runner,), (hold,) = admitted(app, client, users, clock, hold_seconds=60)
    order_id = order(client, runner, hold).get_json()["order_id"]
    clock.advance(61)
    with app.app_context():
        run_rounds(1)  # the workers bring the database's expiry down to what the runner was told
    late = confirm(client, runner, order_id)
    assert late.status_code == 410 and late.get_json()["reason"] == "hold_expired"
    assert fake.calls == []
    assert order(client, runner, hold).status_code == 410
    assert confirm(client, runner, order_id).status_code == 410


def test_a_charge_that_arrives_after_the_hold_expired_is_refunded(app, client, users, clock, fake):
    (runner,), (hold,) = admitted(app, client, users, clock, hold_seconds=60)
    order_id = order(client, runner, hold).get_json()["order_id"]
    real_confirm = fake.confirm

    def slow_gateway(*args):
        clock.advance(120)  # the runner's bank took two minutes: the hold ran out meanwhile
        return real_confirm(*args)

    fake.confirm = slow_gateway
    late = confirm(client, runner, order_id)
    assert late.status_code == 410 and late.get_json()["reason"] == "hold_expired"
    assert fake.charges() == 1 and fake.refunds() == 1
    assert confirm(client, runner, order_id).status_code == 410
    assert fake.refunds() == 1 and len(fake.calls) == 2
    with app.app_context():
        refund = db.session.execute(select(Refund)).scalar_one()
        assert (refund.status, refund.amount) == ("done", 50000)
        assert db.session.execute(select(Order.status)).scalar_one() == "void"
        assert db.session.execute(select(func.count()).select_from(Registration)).scalar() == 0


def test_cancellation_refunds_and_frees_the_place(app, client, users, clock, fake):
    (runner,), (hold,) = admitted(app, client, users, clock)
    order_id = order(client, runner, hold).get_json()["order_id"]
    registration_id = confirm(client, runner, order_id).get_json()["registration"]["id"]
    assert bucket_counts(app) == (0, 1)
    cancelled = client.post(f"/api/v1/registrations/{registration_id}/cancel", headers=runner)
    assert cancelled.status_code == 200, cancelled.get_json()
    assert cancelled.get_json() == {"status": "cancelled", "refund": {"amount": 50000, "status": "done"}}
    assert bucket_counts(app) == (0, 0)
    repeated = client.post(f"/api/v1/registrations/{registration_id}/cancel", headers=runner)
    assert repeated.get_json() == cancelled.get_json()
    assert fake.refunds() == 1
    refused = confirm(client, runner, order_id)
    assert refused.status_code == 409 and refused.get_json()["reason"] == "order_refunded"


def test_no_cancellation_after_the_refund_window(app, client, users, clock, fake):
    (runner,), (hold,) = admitted(app, client, users, clock)
    order_id = order(client, runner, hold).get_json()["order_id"]
    registration_id = confirm(client, runner, order_id).get_json()["registration"]["id"]
    clock.advance(timedelta(days=31).total_seconds())
    closed = client.post(f"/api/v1/registrations/{registration_id}/cancel", headers=runner)
    assert closed.status_code == 409 and closed.get_json()["reason"] == "refund_window_closed"
    assert fake.refunds() == 0 and bucket_counts(app) == (0, 1)


def test_an_organiser_voids_with_a_full_refund_after_the_window(app, client, users, clock, fake):
    (runner,), (hold,) = admitted(app, client, users, clock)
    order_id = order(client, runner, hold).get_json()["order_id"]
    registration_id = confirm(client, runner, order_id).get_json()["registration"]["id"]
    clock.advance(timedelta(days=31).total_seconds())
    with app.app_context():
        voided = refunds.refund_registration(registration_id, "admin@example.com", "bot farm")
    assert voided["registration"]["status"] == "voided" and voided["refund"] == {"amount": 50000, "status": "done"}
    assert fake.refunds() == 1 and bucket_counts(app) == (0, 0)


def test_a_refund_the_provider_could_not_make_is_retried(app, client, users, clock, fake, runner):
    from marathon.blueprints.payment.providers.base import ProviderUnavailable

    (runner_headers,), (hold,) = admitted(app, client, users, clock)
    order_id = order(client, runner_headers, hold).get_json()["order_id"]
    registration_id = confirm(client, runner_headers, order_id).get_json()["registration"]["id"]
    real_cancel = fake.cancel

    def down(*_args):
        raise ProviderUnavailable("down")

    fake.cancel = down
    cancelled = client.post(f"/api/v1/registrations/{registration_id}/cancel", headers=runner_headers)
    assert cancelled.get_json()["refund"] == {"amount": 50000, "status": "pending"}
    fake.cancel = real_cancel
    result = runner.invoke(args=["payments", "retry-refunds"])
    assert result.exit_code == 0 and "1 refund(s) done" in result.output
    assert fake.refunds() == 1
    again = client.post(f"/api/v1/registrations/{registration_id}/cancel", headers=runner_headers)
    assert again.get_json()["refund"]["status"] == "done"


def test_another_runners_ids_are_404_everywhere(app, client, users, clock, fake):
    (owner, other), (hold, other_hold) = admitted(app, client, users, clock, runners=2)
    order_id = order(client, owner, hold).get_json()["order_id"]
    registration_id = confirm(client, owner, order_id).get_json()["registration"]["id"]
    answers = [
        order(client, other, hold),
        client.get(f"/api/v1/payments/{order_id}", headers=other),
        confirm(client, other, order_id),
        client.post(f"/api/v1/registrations/{registration_id}/cancel", headers=other),
        order(client, owner, {"id": 999999}),
        client.get("/api/v1/payments/ord_nothing", headers=owner),
        confirm(client, owner, "ord_nothing"),
        client.post("/api/v1/registrations/999999/cancel", headers=owner),
    ]
    assert [answer.status_code for answer in answers] == [404] * len(answers)
    assert [answer.get_json()["reason"] for answer in answers[:4]] == [
        "hold_not_found", "order_not_found", "order_not_found", "registration_not_found"]
    assert fake.charges() == 1 and fake.refunds() == 0
    # the other runner's own hold still works for them
    assert order(client, other, other_hold).status_code == 201


def test_payment_endpoints_need_a_token(client):
    assert client.post("/api/v1/payments", json={"hold_id": 1}).status_code == 401
    assert client.post("/api/v1/payments/ord_x/confirm", json={"payment_key": "fake_ok", "amount": 1}).status_code == 401
    assert client.post("/api/v1/registrations/1/cancel").status_code == 401


def test_emergency_information_can_be_given_right_after_paying(app, client, users, clock, fake):
    (runner,), (hold,) = admitted(app, client, users, clock)
    paid = confirm(client, runner, order(client, runner, hold).get_json()["order_id"])
    registration_id = paid.get_json()["registration"]["id"]
    patched = client.patch(f"/api/v1/registrations/{registration_id}",
                           json={"blood_type": "AB-", "emergency_contact": "010-9876-5432 (brother)"}, headers=runner)
    assert patched.status_code == 200, patched.get_json()
    assert (patched.get_json()["blood_type"], patched.get_json()["emergency_contact"]) == ("AB-", "010-9876-5432 (brother)")
    bad = client.patch(f"/api/v1/registrations/{registration_id}", json={"blood_type": "Z", "emergency_contact": "x"},
                       headers=runner)
    assert bad.status_code == 422 and "blood_type" in bad.get_json()["errors"]["json"]
    other = client.patch(f"/api/v1/registrations/{registration_id}",
                         json={"blood_type": "A+", "emergency_contact": "x"}, headers=users.headers())
    assert other.status_code == 404
