"""The development provider: keys starting `fake_` succeed, `fake_decline` is declined; every call is recorded."""
import threading

from marathon.blueprints.payment.providers.base import Charge, PaymentDeclined, PaymentNotFound, PaymentProvider


class FakeProvider(PaymentProvider):
    name = "fake"

    def __init__(self):
        self.calls = []
        # answers by idempotency key: a repeated call gets the first answer, as with a real gateway
        self._answers = {}
        self._lock = threading.Lock()

    def confirm(self, payment_key, order_id, amount, idempotency_key):
        with self._lock:
            self.calls.append(("confirm", payment_key, order_id, amount, idempotency_key))
        if payment_key.startswith("fake_decline"):
            raise PaymentDeclined("the card was declined (fake provider)")
        if not payment_key.startswith("fake_"):
            raise PaymentNotFound("no such payment (fake keys start with fake_)")
        with self._lock:
            answer = self._answers.setdefault(idempotency_key, {
                "paymentKey": payment_key, "orderId": order_id, "totalAmount": amount, "status": "DONE",
            })
        return Charge(payment_key, order_id, amount, dict(answer))

    def cancel(self, payment_key, amount, reason, idempotency_key):
        with self._lock:
            self.calls.append(("cancel", payment_key, amount, reason, idempotency_key))
            return dict(self._answers.setdefault(idempotency_key, {
                "paymentKey": payment_key, "status": "CANCELED", "cancelAmount": amount, "cancelReason": reason,
            }))

    def charges(self):
        """The distinct captures made (a repeated idempotency key is one charge)."""
        return len({call[4] for call in self.calls if call[0] == "confirm" and call[1].startswith("fake_")
                    and not call[1].startswith("fake_decline")})

    def refunds(self):
        return len({call[4] for call in self.calls if call[0] == "cancel"})
