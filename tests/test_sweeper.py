"""Orders stuck half-way (the process died after claiming or after the charge) are finished by the sweeper; a partial
cancel at the provider is not a full one."""
import json

from sqlalchemy import select, update

from marathon.blueprints.payment import sweeper
from marathon.blueprints.payment.models import Order, Refund
from marathon.blueprints.registrations.models import Registration
from marathon.extensions import db
from tests.support.api import admitted, bucket_counts, confirm, order
from tests.test_payment_webhook import deliver, paid_order


def stuck(app, client, users, clock, status, hold_seconds=600):
    """An order left in `status` by a process that died, its claim taken now."""
    (runner,), (hold,) = admitted(app, client, users, clock, hold_seconds=hold_seconds)
    order_id = order(client, runner, hold).get_json()["order_id"]
    with app.app_context():
        db.session.execute(update(Order).where(Order.order_id == order_id).values(
            status=status, payment_key="fake_ok", claimed_at=clock.now(),
            provider_answer={"status": "DONE"} if status == "charged" else None))
        db.session.commit()
    return runner, order_id


def status_of(app, order_id):
    with app.app_context():
        return db.session.execute(select(Order.status).filter_by(order_id=order_id)).scalar_one()


def test_a_charged_order_is_registered_and_a_confirming_one_is_asked_again(app, client, users, clock, fake):
    runner, charged = stuck(app, client, users, clock, "charged")
    with app.app_context():
        assert sweeper.sweep_stuck_orders(older_than=120) == {"registered": 0, "refunded": 0, "released": 0,
                                                               "failed": 0}  # a live claim is left alone
    clock.advance(121)
    with app.app_context():
        assert sweeper.sweep_stuck_orders(older_than=120)["registered"] == 1
    assert status_of(app, charged) == "paid" and bucket_counts(app) == (0, 1)
    assert fake.calls == []  # the charge was made before; it is not made again
    assert confirm(client, runner, charged).get_json()["registration"]["bib"] == 1


def test_a_confirming_order_is_confirmed_again_with_the_same_idempotency_key(app, client, users, clock, fake):
    runner, order_id = stuck(app, client, users, clock, "confirming")
    clock.advance(121)
    with app.app_context():
        assert sweeper.sweep_stuck_orders(older_than=120)["registered"] == 1
    assert status_of(app, order_id) == "paid"
    assert fake.charges() == 1


def test_a_charged_order_whose_hold_expired_is_refunded(app, client, users, clock, fake):
    _runner, order_id = stuck(app, client, users, clock, "charged", hold_seconds=60)
    clock.advance(121)
    with app.app_context():
        assert sweeper.sweep_stuck_orders(older_than=120)["refunded"] == 1
    assert status_of(app, order_id) == "void" and fake.refunds() == 1


def test_a_declined_confirm_is_released_for_another_try(app, client, users, clock, fake):
    _runner, order_id = stuck(app, client, users, clock, "confirming")
    with app.app_context():
        db.session.execute(update(Order).values(payment_key="fake_decline"))
        db.session.commit()
    clock.advance(121)
    with app.app_context():
        assert sweeper.sweep_stuck_orders(older_than=120)["released"] == 1
    assert status_of(app, order_id) == "pending"


def test_the_sweep_command(app, client, users, clock, fake, runner):
    stuck(app, client, users, clock, "charged")
    clock.advance(400)
    result = runner.invoke(args=["payments", "sweep", "--older-than", "300"])
    assert result.exit_code == 0, result.output
    assert "1 registered" in result.output


def test_partial_cancel_at_the_provider_keeps_the_registration(app, client, users, clock, fake):
    runner, order_id, answer = paid_order(app, client, users, clock)
    body = json.dumps({"id": "evt_partial", "eventType": "PAYMENT_STATUS_CHANGED", "createdAt": "2030-01-01T10:00:00",
                       "data": {"orderId": order_id, "paymentKey": "fake_ok", "status": "PARTIAL_CANCELED",
                                "totalAmount": 50000, "balanceAmount": 40000,
                                "cancels": [{"cancelAmount": 10000, "cancelStatus": "DONE"}]}}).encode()
    partial = deliver(client, body).get_json()
    assert partial["status"] == "processed" and "10000" in partial["outcome"]
    assert status_of(app, order_id) == "paid" and bucket_counts(app) == (0, 1)
    with app.app_context():
        assert db.session.get(Registration, answer["registration"]["id"]).status == "confirmed"
        assert db.session.execute(select(Refund)).first() is None
