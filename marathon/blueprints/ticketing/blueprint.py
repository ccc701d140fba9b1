"""The `ticketing` blueprint object, shared by the catalogue, admin and waiting-line routes."""
from flask_smorest import Blueprint

from marathon.core.parsing import LeanParser

blp = Blueprint("ticketing", __name__, url_prefix="/api/v1", description="Races, waiting lines and registrations")
# the join's body is checked by hand when well formed (JoinSchema.lean_check): webargs' cost was a tenth of a join's CPU
blp.ARGUMENTS_PARSER = LeanParser()
