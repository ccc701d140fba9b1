"""Payments: orders for holds, the providers (fake, toss), provider webhooks, cancellations with refunds."""
from marathon.blueprints.payment import services
from marathon.blueprints.payment.routes import blp  # noqa: F401
from marathon.blueprints.registrations.services import holds_created

# each hold gets its order in the admission's own transaction
holds_created.connect(services.open_orders)
