"""Duplicate payment requests at the same moment, against the real database: one order, one charge, one bib."""
import threading

from sqlalchemy import func, select

from marathon.blueprints.payment.models import Order
from marathon.blueprints.races.models import PaceGroup
from marathon.blueprints.registrations.models import Registration
from marathon.extensions import db
from tests.support.api import admitted, confirm, order


def all_at_once(app, count, request):
    """Run `request(client)` in `count` threads released together, each with its own app context and client."""
    start = threading.Barrier(count)
    answers, errors = [], []

    def one():
        try:
            with app.app_context():
                client = app.test_client()
                start.wait()
                answer = request(client)
                answers.append((answer.status_code, answer.get_json()))
        except Exception as error:  # surfaced below: a thread's failure must fail the test
            errors.append(error)

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert len(answers) == count
    return answers


def test_six_simultaneous_confirms_charge_once_and_register_once(app, client, users, clock, fake):
    (runner,), (hold,) = admitted(app, client, users, clock)
    order_id = order(client, runner, hold).get_json()["order_id"]
    answers = all_at_once(app, 6, lambda c: confirm(c, runner, order_id, blood_type="A-"))
    assert [status for status, _ in answers] == [200] * 6, answers
    assert len({str(body) for _, body in answers}) == 1
    assert answers[0][1]["registration"]["bib"] == 1
    assert fake.charges() == 1 and len(fake.calls) == 1
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Registration)).scalar() == 1
        group = db.session.execute(select(PaceGroup)).scalar_one()
        assert (group.held, group.confirmed) == (0, 1)


def test_six_simultaneous_orders_for_one_hold_make_one_order(app, client, users, clock, fake):
    (runner,), (hold,) = admitted(app, client, users, clock)
    answers = all_at_once(app, 6, lambda c: order(c, runner, hold))
    assert [status for status, _ in answers] == [201] * 6, answers
    assert len({body["order_id"] for _, body in answers}) == 1
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Order)).scalar() == 1


def test_six_simultaneous_declines_ask_the_provider_once(app, client, users, clock, fake):
    (runner,), (hold,) = admitted(app, client, users, clock)
    order_id = order(client, runner, hold).get_json()["order_id"]
    answers = all_at_once(app, 6, lambda c: confirm(c, runner, order_id, payment_key="fake_decline"))
    assert {(status, body["reason"]) for status, body in answers} == {(402, "payment_declined")}
    assert len(fake.calls) == 1
    assert confirm(client, runner, order_id).status_code == 200
