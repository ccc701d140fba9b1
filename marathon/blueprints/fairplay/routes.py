"""Fair-play endpoints: the proof-of-work challenge a runner solves before joining a line."""
import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint

from marathon.blueprints.fairplay import proof
from marathon.blueprints.races import catalogue
from marathon.core.limits import per_ip
from marathon.core.security import access_claims, BEARER, ensure_not_revoked

blp = Blueprint("fairplay", __name__, url_prefix="/api/v1", description="Fair play: proof of work")


class ChallengeParametersSchema(ma.Schema):
    """ALTCHA v2's challenge parameters, as the altcha package writes them (signed: passed back unchanged)."""

    algorithm = ma.fields.String(metadata={"description": "PBKDF2/SHA-256"})
    cost = ma.fields.Integer(metadata={"description": "PBKDF2 iterations of one attempt"})
    keyLength = ma.fields.Integer()
    keyPrefix = ma.fields.String(metadata={"description": "the derived key the solver must find starts with this"})
    keySignature = ma.fields.String()
    nonce = ma.fields.String()
    salt = ma.fields.String()
    data = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(),
                          metadata={"description": "the binding: race, user, issued at (t, ms), expires (s)"})


class ChallengeSchema(ma.Schema):
    required = ma.fields.Boolean(metadata={"description": "false when the race asks for no proof of work"})
    parameters = ma.fields.Nested(ChallengeParametersSchema)
    signature = ma.fields.String()
    difficulty = ma.fields.Integer()
    max_counter = ma.fields.Integer(metadata={"description": "the counter to reach is at most this"})
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
