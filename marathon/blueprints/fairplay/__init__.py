"""Fair play: proof of work at the join, the bot review of a race's runners, and organisers' voids."""
from marathon.blueprints.fairplay.routes import blp  # noqa: F401
