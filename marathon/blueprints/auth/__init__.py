"""Accounts of runners and admins: signup, login, tokens, and the User model."""
from marathon.blueprints.auth.routes import blp  # noqa: F401
