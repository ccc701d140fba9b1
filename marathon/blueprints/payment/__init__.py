"""Payments: orders for holds, the providers (fake, toss), provider webhooks, cancellations with refunds."""
from marathon.blueprints.payment.routes import blp  # noqa: F401
