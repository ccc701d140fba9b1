"""Accounts of runners and admins: signup, login, tokens, and the User model."""
from marathon.blueprints.auth import services
from marathon.blueprints.auth.routes import blp  # noqa: F401
from marathon.core.security import set_account_lookup

# the admin guard (in core) checks a token's version against the database through this
blp.record_once(lambda state: set_account_lookup(state.app, services.token_account))
