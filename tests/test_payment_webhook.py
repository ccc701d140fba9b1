"""Provider webhooks: signed, de-duplicated, harmless when repeated or out of order."""
import json

from sqlalchemy import select

from marathon.blueprints.payment.models import Order, Refund, WebhookEvent
from marathon.blueprints.payment.providers.base import sign, SIGNATURE_HEADER
from marathon.blueprints.registrations.models import Registration
from marathon.extensions import db
from tests.factories import run_rounds
from tests.support.api import admitted, bucket_counts, confirm, order

SECRET = "dev-webhook-secret-not-for-production"


def event(event_id, status, order_id, payment_key="fake_ok", amount=50000):
    return json.dumps({"id": event_id, "eventType": "PAYMENT_STATUS_CHANGED", "createdAt": "2030-01-01T10:00:00",
                       "data": {"orderId": order_id, "paymentKey": payment_key, "status": status,
                                "totalAmount": amount}}).encode()


def deliver(client, body, signature=None):
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature or sign(body, SECRET)}
    return client.post("/api/v1/payments/webhook", data=body, headers=headers)


def paid_order(app, client, users, clock):
    (runner,), (hold,) = admitted(app, client, users, clock)
    order_id = order(client, runner, hold).get_json()["order_id"]
    answer = confirm(client, runner, order_id).get_json()
    return runner, order_id, answer


def test_forged_and_unsigned_events_are_refused(app, client, users, clock, fake):
    runner, order_id, _ = paid_order(app, client, users, clock)
    body = event("evt_1", "CANCELED", order_id)
    forged = deliver(client, body, signature=sign(body, "not the secret"))
    assert forged.status_code == 400 and forged.get_json()["reason"] == "bad_signature"
    tampered = deliver(client, event("evt_1", "CANCELED", order_id, amount=1), signature=sign(body, SECRET))
    assert tampered.status_code == 400 and tampered.get_json()["reason"] == "bad_signature"
    unsigned = client.post("/api/v1/payments/webhook", data=body, headers={"Content-Type": "application/json"})
    assert unsigned.status_code == 400 and unsigned.get_json()["reason"] == "bad_signature"
    not_json = b"hello"
    assert deliver(client, not_json).status_code == 400
    with app.app_context():
        assert db.session.execute(select(Order.status)).scalar_one() == "paid"
        assert db.session.execute(select(WebhookEvent)).first() is None


def test_done_for_a_paid_order_does_nothing_and_a_replay_is_a_duplicate(app, client, users, clock, fake):
    runner, order_id, answer = paid_order(app, client, users, clock)
    body = event("evt_done", "DONE", order_id)
    first = deliver(client, body)
    assert first.status_code == 200 and first.get_json()["status"] == "ignored"
    replay = deliver(client, body)
    assert replay.status_code == 200 and replay.get_json()["status"] == "duplicate"
    assert confirm(client, runner, order_id).get_json() == answer
    assert fake.charges() == 1


def test_canceled_at_the_provider_marks_refunded_once(app, client, users, clock, fake):
    runner, order_id, answer = paid_order(app, client, users, clock)
    canceled = deliver(client, event("evt_cancel", "CANCELED", order_id))
    assert canceled.status_code == 200 and canceled.get_json() == {"status": "processed", "outcome": "refunded"}
    assert bucket_counts(app) == (0, 0)
    assert deliver(client, event("evt_cancel", "CANCELED", order_id)).get_json()["status"] == "duplicate"
    again = deliver(client, event("evt_cancel_2", "CANCELED", order_id)).get_json()
    assert again == {"status": "ignored", "outcome": "already refunded"}
    late_done = deliver(client, event("evt_done_late", "DONE", order_id)).get_json()  # out of order: no effect
    assert late_done["status"] == "ignored"
    assert fake.refunds() == 0  # the provider made the refund; we never asked for the money back twice
    cancel = client.post(f"/api/v1/registrations/{answer['registration']['id']}/cancel", headers=runner)
    assert cancel.get_json() == {"status": "cancelled", "refund": {"amount": 50000, "status": "done"}}
    assert fake.refunds() == 0
    with app.app_context():
        refund = db.session.execute(select(Refund)).scalar_one()
        assert (refund.status, refund.actor, refund.amount) == ("done", "provider", 50000)
        assert db.session.get(Registration, answer["registration"]["id"]).status == "cancelled"
        assert db.session.execute(select(Order.status)).scalar_one() == "refunded"


def test_done_for_an_order_whose_confirm_never_came_registers_the_runner(app, client, users, clock, fake):
    (runner,), (hold,) = admitted(app, client, users, clock)
    order_id = order(client, runner, hold).get_json()["order_id"]
    wrong = deliver(client, event("evt_wrong", "DONE", order_id, payment_key="fake_w", amount=1)).get_json()
    assert wrong == {"status": "ignored", "outcome": "amount does not match the order"}
    done = deliver(client, event("evt_done", "DONE", order_id, payment_key="fake_widget"))
    assert done.get_json() == {"status": "processed", "outcome": "registered"}
    assert bucket_counts(app) == (0, 1)
    answer = confirm(client, runner, order_id, payment_key="fake_widget")
    assert answer.status_code == 200 and answer.get_json()["registration"]["bib"] == 1
    assert fake.calls == []  # the charge was reported, not made by us


def test_done_after_the_hold_expired_is_refunded(app, client, users, clock, fake):
    (runner,), (hold,) = admitted(app, client, users, clock, hold_seconds=60)
    order_id = order(client, runner, hold).get_json()["order_id"]
    clock.advance(61)
    with app.app_context():
        run_rounds(1)  # the workers bring the database's expiry down to what the runner was told
    done = deliver(client, event("evt_done", "DONE", order_id, payment_key="fake_widget")).get_json()
    assert done == {"status": "processed", "outcome": "hold expired: refunded"}
    assert fake.refunds() == 1
    assert confirm(client, runner, order_id, payment_key="fake_widget").status_code == 410


def test_unknown_orders_and_other_statuses_are_ignored(app, client, users, clock, fake):
    assert deliver(client, event("evt_x", "DONE", "ord_nobody")).get_json()["outcome"] == "no such order"
    runner, order_id, _ = paid_order(app, client, users, clock)
    assert deliver(client, event("evt_y", "ABORTED", order_id)).get_json()["status"] == "ignored"
