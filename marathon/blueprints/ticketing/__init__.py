"""Races, waiting lines per bucket, holds and registrations."""
from marathon.blueprints.ticketing import queue_routes, registration_routes, routes  # noqa: F401  (routes attach to blp)
from marathon.blueprints.ticketing.blueprint import blp  # noqa: F401
