"""The `ticketing` blueprint object, shared by the catalogue, admin and waiting-line routes."""
from flask_smorest import Blueprint

blp = Blueprint("ticketing", __name__, url_prefix="/api/v1", description="Races, waiting lines and registrations")
