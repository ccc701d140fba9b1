"""Fair-play endpoints: the proof-of-work challenge a runner solves before joining a line."""
import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint

from marathon.blueprints.fairplay import proof
from marathon.blueprints.races import catalogue
from marathon.core.limits import per_ip
from marathon.core.security import access_claims, BEARER, ensure_not_revoked

blp = Blueprint("fairplay", __name__, url_prefix="/api/v1", description="Fair play: proof of work")


class ChallengeSchema(ma.Schema):
    required = ma.fields.Boolean(metadata={"description": "false when the race asks for no proof of work"})
    algorithm = ma.fields.String()
    challenge = ma.fields.String()
    maxnumber = ma.fields.Integer()
    maxNumber = ma.fields.Integer()
    salt = ma.fields.String(metadata={"description": "carries the binding: race, user, issued at (t), expires"})
    signature = ma.fields.String()
    difficulty = ma.fields.Integer()
    expires_at = ma.fields.String()


@blp.route("/races/<race>/pow")
class Challenge(MethodView):
    decorators = [per_ip("RATELIMIT_POW_PER_IP")]

    @blp.response(200, ChallengeSchema)
    @blp.doc(security=BEARER)
    def get(self, race):
        """An ALTCHA challenge for the caller and this race; solve it and send the payload as the join's `pow`."""
        claims = access_claims()
        ensure_not_revoked(claims)
        entry = catalogue.lookup(race)
        return proof.issue_challenge(entry.race_id, claims["sub"], entry.pow_difficulty, claims["jti"])
