"""Unsigned Toss webhooks cannot steer our calls to Toss: keys checked and escaped, known orders only, rate-limited."""
import json

import pytest
import responses
from sqlalchemy import func, select

from marathon.blueprints.payment.models import WebhookEvent
from marathon.blueprints.payment.providers.base import PaymentNotFound
from marathon.blueprints.payment.providers.toss import TossProvider
from marathon.extensions import db
from tests.support.api import admitted, order
from tests.test_toss import API, KEY, SECRET_KEY, recorded


@pytest.fixture
def gateway():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def toss(app):
    provider = TossProvider(SECRET_KEY, client_key="test_ck_widget", base_url=API)
    app.extensions["payment_provider"] = provider
    return provider


def unsigned(client, order_id, payment_key, **extra):
    body = {"eventType": "PAYMENT_STATUS_CHANGED", "createdAt": "2030-01-01T10:00:00",
            "data": {"orderId": order_id, "paymentKey": payment_key, "status": "DONE", **extra}}
    return client.post("/api/v1/payments/webhook", data=json.dumps(body), headers={"Content-Type": "application/json"})


def stored_events(app):
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(WebhookEvent)).scalar_one()


@pytest.mark.parametrize("payment_key", ["../../v1/billing/authorizations/x", "a/b", "a?b=c", "a#b", "a%2Fb", "a b",
                                         "é", "x" * 201, ""])
def test_a_payment_key_that_is_not_tosss_never_reaches_a_url(app, client, users, clock, toss, gateway, payment_key):
    (runner,), (hold,) = admitted(app, client, users, clock)
    order_id = order(client, runner, hold).get_json()["order_id"]
    answer = unsigned(client, order_id, payment_key)
    assert answer.status_code == 400 and answer.get_json()["reason"] == "bad_signature"
    assert len(gateway.calls) == 0 and stored_events(app) == 0


def test_keys_in_urls_are_checked_and_escaped(toss, gateway):
    for call in (lambda: toss.fetch("../x"), lambda: toss.cancel("a/b", 1, "r", "k")):
        with pytest.raises(PaymentNotFound):
            call()
    assert len(gateway.calls) == 0
    gateway.get(f"{API}/v1/payments/{KEY}", json=recorded("payment_done", paymentKey=KEY))
    assert toss.fetch(KEY)["status"] == "DONE"


def test_toss_is_asked_only_about_orders_we_know(app, client, users, clock, toss, gateway):
    answer = unsigned(client, "ord_nobody_knows_this_one", KEY)
    assert answer.status_code == 400 and answer.get_json()["reason"] == "bad_signature"
    assert len(gateway.calls) == 0 and stored_events(app) == 0
    (runner,), (hold,) = admitted(app, client, users, clock)
    order_id = order(client, runner, hold).get_json()["order_id"]
    gateway.get(f"{API}/v1/payments/{KEY}", json=recorded("payment_done", paymentKey=KEY, orderId=order_id))
    assert unsigned(client, order_id, KEY).status_code == 200
    assert len(gateway.calls) == 1
    # the same order again at once: Toss is not asked again (at most one question per order per few seconds)
    again = unsigned(client, order_id, KEY)
    assert again.status_code == 429 and int(again.headers["Retry-After"]) >= 1
    assert len(gateway.calls) == 1


def test_the_webhook_is_rate_limited_per_address_even_with_address_limits_off(app, client):
    app.config.update(RATELIMIT_WEBHOOK_PER_IP="3/minute")
    for _ in range(3):
        assert client.post("/api/v1/payments/webhook", data=b"{}",
                           headers={"Content-Type": "application/json"}).status_code == 400
    limited = client.post("/api/v1/payments/webhook", data=b"{}", headers={"Content-Type": "application/json"})
    assert limited.status_code == 429 and limited.headers["Retry-After"]
