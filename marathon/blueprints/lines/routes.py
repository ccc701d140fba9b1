"""Waiting-line endpoints: join, status, leave. Lean on purpose: one Redis round trip, no SQL on join and status
(per-address rate limits, when on, add the limiter's; proof of work adds CPU only)."""
from flask import jsonify
from flask.views import MethodView

from marathon.blueprints.lines import services
from marathon.blueprints.lines.schemas import JoinedSchema, JoinSchema, QueueStatusSchema
from marathon.blueprints.ticketing.blueprint import blp
from marathon.core.limits import per_ip
from marathon.core.net import client_ip
from marathon.core.security import access_claims, BEARER


@blp.route("/races/<race>/queue")
class Queue(MethodView):
    decorators = [per_ip("RATELIMIT_JOIN_PER_IP")]

    @blp.arguments(JoinSchema)
    @blp.response(202, JoinedSchema)
    @blp.doc(security=BEARER)
    @blp.alt_response(409, description="already_in_line, already_registered, sold_out or transferred_away")
    @blp.alt_response(403, description="sale_not_open")
    @blp.alt_response(400, description="bad_pow: proof of work missing, forged, another's, expired or used")
    def post(self, body, race):
        """Join the waiting line of a course and pace group (with `pow` when the race asks for proof of work)."""
        claims = access_claims()
        joined = services.join(race, body["course"], body["pace_group"], claims, ip=client_ip(),
                               pow_payload=body.get("pow"))
        response = jsonify(joined)
        response.status_code = 202
        return response


@blp.route("/races/<race>/queue/me")
class MyPlace(MethodView):
    decorators = [per_ip("RATELIMIT_STATUS_PER_IP", methods=["GET"])]

    @blp.response(200, QueueStatusSchema)
    @blp.doc(security=BEARER)
    @blp.alt_response(404, description="not_in_line")
    @blp.alt_response(429, description="asked sooner than retry_after_s")
    def get(self, race):
        """Where the caller stands: position, ETA, or the hold once admitted."""
        return jsonify(services.my_place(race, access_claims()))

    @blp.response(204)
    @blp.doc(security=BEARER)
    @blp.alt_response(404, description="not_in_line")
    def delete(self, race):
        """Leave the line (or give back a held place)."""
        services.leave(race, access_claims())

