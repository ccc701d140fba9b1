"""Waiting-line endpoints: join, status, leave. Lean on purpose: one Redis round trip, no SQL on join and status (their
per-address limits are counted inside that round trip; proof of work adds CPU only). marathon.web.fast_lines answers
the same two requests in front of Flask; these views answer what it hands over."""
from flask import jsonify
from flask.views import MethodView

from marathon.blueprints.lines import services
from marathon.blueprints.lines.schemas import JoinedSchema, JoinSchema, QueueStatusSchema
from marathon.blueprints.ticketing.blueprint import blp
from marathon.core.clock import request_arrival_ms
from marathon.core.net import client_ip
from marathon.core.security import access_claims, BEARER


@blp.route("/races/<race>/queue")
class Queue(MethodView):
    @blp.arguments(JoinSchema)
    @blp.response(202, JoinedSchema)
    @blp.doc(security=BEARER)
    @blp.alt_response(409, description="already_in_line, already_registered, sold_out or transferred_away")
    @blp.alt_response(403, description="sale_not_open")
    @blp.alt_response(400, description="bad_pow: proof of work missing, forged, another's, expired or used")
    @blp.alt_response(429, description="rate_limited: too many joins from this address (RATELIMIT_JOIN_PER_IP)")
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
    @blp.response(200, QueueStatusSchema)
    @blp.doc(security=BEARER)
    @blp.alt_response(404, description="not_in_line")
    @blp.alt_response(429, description="too_soon: asked sooner than retry_after_s; rate_limited: too many from this "
                                       "address (RATELIMIT_STATUS_PER_IP)")
    def get(self, race):
        """Where the caller stands: position, ETA, or the hold once admitted."""
        return jsonify(services.my_place(race, access_claims(), ip=client_ip(), arrived_ms=request_arrival_ms()))

    @blp.response(204)
    @blp.doc(security=BEARER)
    @blp.alt_response(404, description="not_in_line")
    def delete(self, race):
        """Leave the line (or give back a held place)."""
        services.leave(race, access_claims())

