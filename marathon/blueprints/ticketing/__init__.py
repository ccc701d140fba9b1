"""The `ticketing` blueprint: one API blueprint for the races, lines and registrations routes."""
from marathon.blueprints.lines import ballot_routes as _ballot_routes  # noqa: F401  (routes attach to blp)
from marathon.blueprints.lines import event_routes as _event_routes  # noqa: F401  (routes attach to blp)
from marathon.blueprints.lines import routes as _line_routes  # noqa: F401
from marathon.blueprints.registrations import routes as _registration_routes  # noqa: F401
from marathon.blueprints.races import routes as _race_routes  # noqa: F401
from marathon.blueprints.ticketing.blueprint import blp  # noqa: F401
