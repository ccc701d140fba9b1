"""Payment endpoints: orders, confirmation, the provider's webhook, and cancellation with refund."""
from flask import request
from flask.views import MethodView
from flask_jwt_extended import jwt_required
from flask_smorest import Blueprint

from marathon.blueprints.payment import refunds, schemas, services, webhooks
from marathon.blueprints.payment.providers.base import SIGNATURE_HEADER
from marathon.core.limits import always_per_ip
from marathon.core.security import BEARER, current_user_id

blp = Blueprint("payment", __name__, url_prefix="/api/v1", description="Payments, refunds and provider events")


@blp.route("/payments")
class Orders(MethodView):
    @jwt_required()
    @blp.arguments(schemas.CreateOrderSchema)
    @blp.response(201, schemas.OrderSchema)
    @blp.doc(security=BEARER)
    @blp.alt_response(404, description="hold_not_found: no such hold of yours")
    @blp.alt_response(410, description="hold_expired")
    def post(self, body):
        """Start paying for a held place; posting again for the same hold gives the same order."""
        return services.order_view(services.create_order(body["hold_id"], current_user_id()))


@blp.route("/payments/<order_id>")
class OrderById(MethodView):
    @jwt_required()
    @blp.response(200, schemas.OrderSchema)
    @blp.doc(security=BEARER)
    @blp.alt_response(404, description="order_not_found")
    def get(self, order_id):
        """One of the caller's orders."""
        return services.order_view(services.order_of(order_id, current_user_id()))


@blp.route("/payments/<order_id>/confirm")
class Confirm(MethodView):
    @jwt_required()
    @blp.arguments(schemas.ConfirmSchema)
    @blp.response(200, schemas.ConfirmationSchema)
    @blp.doc(security=BEARER)
    @blp.alt_response(402, description="payment_declined (try again while the hold lasts)")
    @blp.alt_response(409, description="amount_mismatch, payment_in_progress or order_refunded")
    @blp.alt_response(410, description="hold_expired (a charge that came too late is refunded)")
    @blp.alt_response(404, description="order_not_found")
    @blp.alt_response(503, description="provider_unavailable: repeat the same request")
    def post(self, body, order_id):
        """Confirm the payment the widget authorised: charged once, registered once; a repeat gets the same answer.
        Optional blood_type and emergency_contact go onto the bib."""
        return services.confirm_order(order_id, current_user_id(), body["payment_key"], body["amount"],
                                      body.get("blood_type"), body.get("emergency_contact"))


@blp.route("/payments/webhook")
class Webhook(MethodView):
    decorators = [always_per_ip("RATELIMIT_WEBHOOK_PER_IP")]

    @blp.response(200, schemas.WebhookAnswerSchema)
    @blp.alt_response(429, description="rate_limited: too many deliveries from this address, or for this order")
    @blp.alt_response(400, description="bad_signature")
    @blp.doc(description=(
        f"The provider's event. `{SIGNATURE_HEADER}: sha256=<hex HMAC-SHA256 of the raw body under "
        "PAYMENT_WEBHOOK_SECRET>`. With PAYMENT_PROVIDER=toss an unsigned PAYMENT_STATUS_CHANGED event is "
        "believed only as far as the payment Toss returns when asked for it. Events are handled once per id."))
    def post(self):
        """Receive a payment provider's event."""
        return webhooks.receive(request.get_data(cache=False), request.headers)


@blp.route("/registrations/<int:registration_id>/cancel")
class Cancel(MethodView):
    @jwt_required()
    @blp.response(200, schemas.CancellationSchema)
    @blp.doc(security=BEARER)
    @blp.alt_response(409, description="refund_window_closed or not_cancellable")
    @blp.alt_response(404, description="registration_not_found")
    def post(self, registration_id):
        """Cancel the caller's registration: the place goes back to the line and the full amount is refunded."""
        return refunds.cancel_and_refund(registration_id, current_user_id())
