"""The Toss Payments adapter against recorded answers of its REST API (no network), and a journey through it."""
import base64
import json
from pathlib import Path

import pytest
import requests
import responses
from responses import matchers

from marathon.blueprints.payment.providers.base import (
    SIGNATURE_HEADER, BadSignature, PaymentDeclined, PaymentNotFound, ProviderUnavailable, sign,
)
from marathon.blueprints.payment.providers.toss import TossProvider
from marathon.core.errors import DomainError
from tests.support.api import admitted, confirm, order

FIXTURES = Path(__file__).parent / "fixtures" / "toss"
API = "https://api.tosspayments.com"
KEY = "tgen_20240101123456abcdE"
ORDER = "ord_Abc123-_xyzXYZ000000000"
SECRET_KEY = "test_sk_zXLkKEypNArWmo50nX3lmeaxYG5R"


def recorded(name, **changes):
    return json.loads((FIXTURES / f"{name}.json").read_text()) | changes


@pytest.fixture
def toss():
    return TossProvider(SECRET_KEY, client_key="test_ck_widget", base_url=API)


@pytest.fixture
def gateway():
    with responses.RequestsMock() as mock:
        yield mock


def test_confirm_sends_basic_auth_the_body_and_an_idempotency_key(toss, gateway):
    auth = "Basic " + base64.b64encode(f"{SECRET_KEY}:".encode()).decode()
    gateway.post(f"{API}/v1/payments/confirm", json=recorded("payment_done"), match=[
        matchers.json_params_matcher({"paymentKey": KEY, "orderId": ORDER, "amount": 50000}),
        matchers.header_matcher({"Authorization": auth, "Idempotency-Key": "confirm-1"}),
    ])
    charge = toss.confirm(KEY, ORDER, 50000, "confirm-1")
    assert (charge.payment_key, charge.order_id, charge.amount) == (KEY, ORDER, 50000)
    assert charge.answer["status"] == "DONE"


@pytest.mark.parametrize("fixture, status", [
    ("error_reject_card_payment", 403),
    ("error_invalid_card_expiration", 400),
    ("error_exceed_max_daily_payment_count", 400),
])
def test_declines_become_402_payment_declined(toss, gateway, fixture, status):
    gateway.post(f"{API}/v1/payments/confirm", json=recorded(fixture), status=status)
    with pytest.raises(PaymentDeclined) as declined:
        toss.confirm(KEY, ORDER, 50000, "k")
    assert declined.value.status == 402 and declined.value.errors["provider_code"] == recorded(fixture)["code"]


@pytest.mark.parametrize("fixture, status, error, code", [
    ("error_not_found_payment_session", 404, PaymentNotFound, 400),
    ("error_not_found_payment", 404, PaymentNotFound, 400),
    ("error_provider_error", 400, ProviderUnavailable, 503),
    ("error_failed_internal_system_processing", 500, ProviderUnavailable, 503),
])
def test_other_errors_map_to_our_reasons(toss, gateway, fixture, status, error, code):
    gateway.post(f"{API}/v1/payments/confirm", json=recorded(fixture), status=status)
    with pytest.raises(error) as raised:
        toss.confirm(KEY, ORDER, 50000, "k")
    assert raised.value.status == code
    if code == 503:
        assert raised.value.headers["Retry-After"]


def test_a_wrong_secret_key_is_our_fault_not_the_runners(toss, gateway):
    gateway.post(f"{API}/v1/payments/confirm", json=recorded("error_unauthorized_key"), status=401)
    with pytest.raises(DomainError) as raised:
        toss.confirm(KEY, ORDER, 50000, "k")
    assert raised.value.status == 502


def test_no_answer_is_retryable(toss, gateway):
    gateway.post(f"{API}/v1/payments/confirm", body=requests.ConnectionError("reset"))
    with pytest.raises(ProviderUnavailable):
        toss.confirm(KEY, ORDER, 50000, "k")


def test_already_processed_is_success_only_after_reading_the_payment_back(toss, gateway):
    gateway.post(f"{API}/v1/payments/confirm", json=recorded("error_already_processed_payment"), status=400)
    gateway.get(f"{API}/v1/payments/{KEY}", json=recorded("payment_done"))
    assert toss.confirm(KEY, ORDER, 50000, "k").answer["status"] == "DONE"
    with pytest.raises(DomainError) as mismatch:
        toss.confirm(KEY, ORDER, 40000, "k")  # the payment Toss holds is for another amount
    assert mismatch.value.reason == "payment_mismatch"


def test_cancel_asks_for_the_full_amount_and_tolerates_an_earlier_cancel(toss, gateway):
    gateway.post(f"{API}/v1/payments/{KEY}/cancel", json=recorded("payment_canceled"), match=[
        matchers.json_params_matcher({"cancelReason": "cancelled by the runner", "cancelAmount": 50000}),
        matchers.header_matcher({"Idempotency-Key": "refund-1"}),
    ])
    assert toss.cancel(KEY, 50000, "cancelled by the runner", "refund-1")["status"] == "CANCELED"
    gateway.post(f"{API}/v1/payments/{KEY}/cancel", json=recorded("error_already_canceled_payment"), status=400)
    gateway.get(f"{API}/v1/payments/{KEY}", json=recorded("payment_canceled"))
    assert toss.cancel(KEY, 50000, "again", "refund-1")["balanceAmount"] == 0


def test_an_unsigned_webhook_is_believed_only_as_far_as_toss_confirms_it(toss, gateway):
    claimed = {"eventType": "PAYMENT_STATUS_CHANGED", "createdAt": "2024-01-02T09:00:00.000000",
               "data": recorded("payment_done", paymentKey=KEY)}  # says DONE; Toss says it was cancelled since
    gateway.get(f"{API}/v1/payments/{KEY}", json=recorded("payment_canceled"))
    verified = toss.verify_event(json.dumps(claimed).encode(), {}, "secret")
    assert (verified.status, verified.order_id, verified.payment_key) == ("CANCELED", ORDER, KEY)
    assert verified.event_id.startswith(f"toss:{KEY}:CANCELED:")
    gateway.get(f"{API}/v1/payments/unknown", json=recorded("error_not_found_payment"), status=404)
    forged = dict(claimed, data={"paymentKey": "unknown"})
    with pytest.raises(BadSignature):
        toss.verify_event(json.dumps(forged).encode(), {}, "secret")
    with pytest.raises(BadSignature):
        toss.verify_event(b"[]", {}, "secret")
    body = json.dumps({"id": "evt", "eventType": "PAYMENT_STATUS_CHANGED", "data": {"orderId": ORDER,
                       "paymentKey": KEY, "status": "DONE", "totalAmount": 1}}).encode()
    assert toss.verify_event(body, {SIGNATURE_HEADER: sign(body, "secret")}, "secret").event_id == "evt"


def test_journey_with_the_toss_provider(app, client, users, clock, gateway):
    app.extensions["payment_provider"] = TossProvider(SECRET_KEY, client_key="test_ck_widget", base_url=API)
    (runner,), (hold,) = admitted(app, client, users, clock)
    made = order(client, runner, hold).get_json()
    assert made["provider"] == "toss" and made["checkout"]["client_key"] == "test_ck_widget"
    order_id = made["order_id"]
    gateway.post(f"{API}/v1/payments/confirm", json=recorded("error_reject_card_payment"), status=403)
    declined = confirm(client, runner, order_id, payment_key="tgen_first")
    assert declined.status_code == 402 and declined.get_json()["reason"] == "payment_declined"
    gateway.replace(responses.POST, f"{API}/v1/payments/confirm",
                    json=recorded("payment_done", orderId=order_id, paymentKey=KEY))
    paid = confirm(client, runner, order_id, payment_key=KEY)
    assert paid.status_code == 200 and paid.get_json()["registration"]["bib"] == 1
    assert confirm(client, runner, order_id, payment_key=KEY).get_json() == paid.get_json()
    confirms = [call for call in gateway.calls if call.request.url.endswith("/confirm")]
    assert len(confirms) == 2 and all(call.request.headers["Idempotency-Key"] for call in confirms)
    assert confirms[0].request.headers["Idempotency-Key"] != confirms[1].request.headers["Idempotency-Key"]

    gateway.post(f"{API}/v1/payments/{KEY}/cancel", json=recorded("payment_canceled", orderId=order_id))
    registration_id = paid.get_json()["registration"]["id"]
    cancelled = client.post(f"/api/v1/registrations/{registration_id}/cancel", headers=runner)
    assert cancelled.get_json() == {"status": "cancelled", "refund": {"amount": 50000, "status": "done"}}
    assert json.loads(gateway.calls[-1].request.body) == {"cancelReason": "cancelled by the runner",
                                                          "cancelAmount": 50000}
