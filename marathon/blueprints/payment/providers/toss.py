"""Toss Payments over its REST API (v1): confirm, cancel, fetch, and webhooks verified by fetching the payment."""
import base64
import json
import logging
import re
from urllib.parse import quote

import requests

from marathon.blueprints.payment.providers.base import (
    SIGNATURE_HEADER, BadSignature, Charge, PaymentDeclined, PaymentEvent, PaymentNotFound, PaymentProvider,
    ProviderUnavailable, event_from_signed_body,
)
from marathon.core.errors import DomainError

log = logging.getLogger(__name__)

# Toss error codes (docs.tosspayments.com/reference/error-codes) grouped by what they mean for us
DECLINED = frozenset({
    "REJECT_CARD_PAYMENT", "REJECT_CARD_COMPANY", "REJECT_ACCOUNT_PAYMENT", "INVALID_CARD_EXPIRATION",
    "INVALID_STOPPED_CARD", "INVALID_REJECT_CARD", "INVALID_CARD_NUMBER", "INVALID_CARD_LOST_OR_STOLEN",
    "INVALID_PASSWORD", "EXCEED_MAX_DAILY_PAYMENT_COUNT", "EXCEED_MAX_PAYMENT_AMOUNT", "EXCEED_MAX_AMOUNT",
    "EXCEED_MAX_ONE_DAY_AMOUNT", "EXCEED_MAX_AUTH_COUNT", "NOT_AVAILABLE_BANK", "NOT_SUPPORTED_CARD_TYPE",
    "BELOW_MINIMUM_AMOUNT", "FDS_ERROR", "INVALID_ACCOUNT_INFO_RE_REGISTER", "NOT_ALLOWED_POINT_USE",
    "UNAPPROVED_ORDER_ID", "REJECT_TOSSPAY_INVALID_ACCOUNT", "EXCEED_MAX_CARD_INSTALLMENT_PLAN",
})
NOT_FOUND = frozenset({"NOT_FOUND_PAYMENT", "NOT_FOUND_PAYMENT_SESSION", "NOT_FOUND"})
RETRYABLE = frozenset({
    "PROVIDER_ERROR", "FAILED_INTERNAL_SYSTEM_PROCESSING", "FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING",
    "UNKNOWN_PAYMENT_ERROR", "COMMON_ERROR", "FAILED_CARD_COMPANY_RESPONSE", "FAILED_DB_PROCESSING",
})
ALREADY_CANCELED = "ALREADY_CANCELED_PAYMENT"
ALREADY_PROCESSED = "ALREADY_PROCESSED_PAYMENT"
TIMEOUT = (3.05, 30)
# a Toss paymentKey: letters, digits, `_` and `-`, at most 200 characters (Toss documents the length; the keys it
# issues, e.g. `tgen_20240101123456abcdE`, are of this alphabet); anything else never goes into a URL
PAYMENT_KEY = re.compile(r"[A-Za-z0-9_-]{1,200}")


def payment_key_path(payment_key):
    """The payment key as one URL path segment; raises PaymentNotFound for a value that is not a Toss key."""
    if not isinstance(payment_key, str) or not PAYMENT_KEY.fullmatch(payment_key):
        raise PaymentNotFound("not a payment key of the provider")
    return quote(payment_key, safe="")


class TossError(Exception):
    def __init__(self, status, code, message):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class TossProvider(PaymentProvider):
    name = "toss"

    def __init__(self, secret_key, client_key=None, base_url="https://api.tosspayments.com", session=None):
        self.base_url = base_url.rstrip("/")
        self.client_key = client_key
        self.session = session or requests.Session()
        token = base64.b64encode(f"{secret_key}:".encode()).decode()
        self.session.headers.update({"Authorization": f"Basic {token}", "Content-Type": "application/json"})

    def _call(self, method, path, body=None, idempotency_key=None):
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        try:
            response = self.session.request(method, self.base_url + path, json=body, headers=headers, timeout=TIMEOUT)
        except requests.RequestException as error:
            # the request may or may not have reached Toss: repeating it with the same Idempotency-Key is safe
            log.warning("toss %s %s failed: %s", method, path, type(error).__name__)
            raise ProviderUnavailable("the payment provider did not answer; try again") from None
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if response.status_code >= 400:
            raise TossError(response.status_code, answer.get("code", "UNKNOWN"), answer.get("message", ""))
        return answer

    def confirm(self, payment_key, order_id, amount, idempotency_key):
        body = {"paymentKey": payment_key, "orderId": order_id, "amount": amount}
        try:
            answer = self._call("POST", "/v1/payments/confirm", body, idempotency_key)
        except TossError as error:
            if error.code == ALREADY_PROCESSED:
                # done by an earlier attempt: believe it only after reading the payment back
                answer = self.fetch(payment_key)
            else:
                raise _translate(error) from None
        return self._charge(answer, payment_key, order_id, amount)

    @staticmethod
    def _charge(answer, payment_key, order_id, amount):
        if answer.get("status") != "DONE" or answer.get("orderId") != order_id or answer.get("totalAmount") != amount:
            log.warning("toss payment %s is not a done payment of order %s for %s", payment_key, order_id, amount)
            raise DomainError("the provider's payment does not match this order", "payment_mismatch", status=409)
        return Charge(payment_key, order_id, amount, answer)

    def cancel(self, payment_key, amount, reason, idempotency_key):
        body = {"cancelReason": reason[:200], "cancelAmount": amount}
        try:
            return self._call("POST", f"/v1/payments/{payment_key_path(payment_key)}/cancel", body, idempotency_key)
        except TossError as error:
            if error.code == ALREADY_CANCELED:
                return self.fetch(payment_key)
            raise _translate(error) from None

    def fetch(self, payment_key):
        """The payment as Toss has it now; raises PaymentNotFound or ProviderUnavailable."""
        try:
            return self._call("GET", f"/v1/payments/{payment_key_path(payment_key)}")
        except TossError as error:
            raise _translate(error) from None

    def verify_event(self, body, headers, secret, may_ask=None):
        """Toss signs only its payout and seller webhooks, not PAYMENT_STATUS_CHANGED: an event that carries our
        own signature (a relay, or a test) is checked by HMAC; any other is believed only as far as the payment
        that Toss gives back when asked for it by key, and Toss is asked only when may_ask(order_id, payment_key)
        allows it (an order of ours; it raises what to answer otherwise)."""
        if headers.get(SIGNATURE_HEADER):
            return event_from_signed_body(body, headers, secret)
        try:
            payload = json.loads(body)
            data = payload["data"]
            payment_key, order_id = data["paymentKey"], data.get("orderId")
            event_type = str(payload["eventType"])
        except (ValueError, KeyError, TypeError, AttributeError):
            raise BadSignature("an unsigned webhook must be a Toss payment event") from None
        if not isinstance(payment_key, str) or not PAYMENT_KEY.fullmatch(payment_key):
            raise BadSignature("an unsigned webhook must carry a Toss payment key")
        if may_ask is not None:
            may_ask(str(order_id or ""), payment_key)
        try:
            payment = self.fetch(payment_key)
        except PaymentNotFound:
            raise BadSignature("Toss knows no such payment") from None
        status = payment.get("status", "")
        return PaymentEvent(
            event_id=f"toss:{payment_key}:{status}:{payment.get('lastTransactionKey', '')}",
            event_type=event_type, status=status, order_id=str(payment.get("orderId", "")),
            payment_key=payment_key, amount=int(payment.get("totalAmount") or 0), payload=payment,
        )

    def checkout(self, order):
        return super().checkout(order) | {"client_key": self.client_key}


def _translate(error):
    """Our error for a Toss error answer."""
    if error.code in DECLINED:
        return PaymentDeclined(f"the payment was declined: {error.message}", errors={"provider_code": error.code})
    if error.code in NOT_FOUND:
        return PaymentNotFound("the provider knows no such payment; start the payment again",
                               errors={"provider_code": error.code})
    if error.code in RETRYABLE or error.status >= 500:
        return ProviderUnavailable("the payment provider failed; try again", errors={"provider_code": error.code})
    log.error("toss answered %s", error)
    return DomainError(f"the payment provider refused the request: {error.message}", "payment_refused",
                       status=402 if error.status in (400, 403) else 502, errors={"provider_code": error.code})
