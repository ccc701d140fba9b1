"""Races, waiting lines per bucket, holds and registrations."""
from marathon.blueprints.ticketing import (  # noqa: F401  (routes attach to blp)
    event_routes, queue_routes, registration_routes, routes)
from marathon.blueprints.ticketing.blueprint import blp  # noqa: F401
