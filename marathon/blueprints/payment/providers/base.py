"""What every payment provider offers (confirm, cancel, fetch, verify an event) and the errors it raises."""
import hashlib
import hmac
import json
from dataclasses import dataclass, field

from marathon.core.errors import DomainError

SIGNATURE_HEADER = "X-Marathon-Signature"


class PaymentDeclined(DomainError):
    """The card or account said no; the order stays open for another try while the hold lasts."""

    status = 402
    reason = "payment_declined"


class PaymentNotFound(DomainError):
    """The provider knows no such payment (wrong key, or the widget's session lapsed): start the widget again."""

    status = 400
    reason = "payment_not_found"


class ProviderUnavailable(DomainError):
    """The provider failed or did not answer; the same request may be repeated safely."""

    status = 503
    reason = "provider_unavailable"

    def __init__(self, message, reason=None, status=None, headers=None, errors=None):
        super().__init__(message, reason, status, headers or {"Retry-After": 2}, errors)


class BadSignature(DomainError):
    status = 400
    reason = "bad_signature"


@dataclass
class Charge:
    """A payment the provider reports as done."""

    payment_key: str
    order_id: str
    amount: int
    answer: dict = field(default_factory=dict)


@dataclass
class PaymentEvent:
    """A provider event after verification: what happened to which payment."""

    event_id: str
    event_type: str
    status: str
    order_id: str
    payment_key: str
    amount: int
    payload: dict = field(default_factory=dict)


def sign(body, secret):
    """The X-Marathon-Signature value of a raw body: 'sha256=' and the hex HMAC-SHA256 under the webhook secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def event_from_signed_body(body, headers, secret):
    """Check our HMAC over the raw body and read the event; raises BadSignature."""
    given = headers.get(SIGNATURE_HEADER, "")
    # compare_digest refuses text that is not ASCII (a TypeError): such a header is simply not our signature
    if not given or not given.isascii() or not hmac.compare_digest(given, sign(body, secret)):
        raise BadSignature("the webhook's signature does not match its body")
    try:
        payload = json.loads(body)
        data = payload["data"]
        return PaymentEvent(
            event_id=str(payload["id"]), event_type=str(payload["eventType"]), status=str(data["status"]),
            order_id=str(data["orderId"]), payment_key=str(data.get("paymentKey") or ""),
            amount=int(data.get("totalAmount") or 0), payload=payload,
        )
    except (ValueError, KeyError, TypeError):
        raise DomainError("the webhook's body is not an event", "bad_event", status=400) from None


class PaymentProvider:
    """The interface: a two-step gateway (the browser authorises, the server confirms)."""

    name = "base"

    def confirm(self, payment_key, order_id, amount, idempotency_key):
        """Capture an authorised payment; returns a Charge. Raises PaymentDeclined, PaymentNotFound,
        ProviderUnavailable."""
        raise NotImplementedError

    def cancel(self, payment_key, amount, reason, idempotency_key):
        """Give the money back; returns the provider's answer. Raises ProviderUnavailable."""
        raise NotImplementedError

    def verify_event(self, body, headers, secret, may_ask=None):
        """The verified event of a webhook delivery; raises BadSignature. A provider that has to ask about the
        payment first asks only when may_ask(order_id, payment_key) lets it (it raises otherwise)."""
        return event_from_signed_body(body, headers, secret)

    def checkout(self, order):
        """What the browser's payment widget needs for this order."""
        return {"order_id": order.order_id, "amount": order.amount, "currency": order.currency,
                "order_name": order.order_name}
