"""Waiting-line endpoints: join, status, leave. Lean on purpose: one Redis round trip, no SQL on join and status
(per-address rate limits, when on, add the limiter's; proof of work adds CPU only)."""
from flask import jsonify
from flask.views import MethodView

from marathon.blueprints.fairplay import proof as proof_of_work
from marathon.blueprints.ticketing import catalogue, line, services
from marathon.blueprints.ticketing.blueprint import blp
from marathon.blueprints.ticketing.queue_schemas import JoinedSchema, JoinSchema, QueueStatusSchema
from marathon.core.errors import DomainError, NotFound
from marathon.core.limits import per_ip
from marathon.core.net import client_ip
from marathon.core.security import BEARER, access_claims, ensure_not_revoked


@blp.route("/races/<race>/queue")
class Queue(MethodView):
    decorators = [per_ip("RATELIMIT_JOIN_PER_IP")]

    @blp.arguments(JoinSchema)
    @blp.response(202, JoinedSchema)
    @blp.doc(security=BEARER)
    @blp.alt_response(409, description="already_in_line, already_registered or sold_out")
    @blp.alt_response(403, description="sale_not_open")
    @blp.alt_response(400, description="bad_pow: proof of work missing, forged, another's, expired or used")
    def post(self, body, race):
        """Join the waiting line of a course and pace group (with `pow` when the race asks for proof of work)."""
        claims = access_claims()
        entry = catalogue.lookup(race)
        bucket_id = catalogue.bucket_id(entry, body["course"], body["pace_group"])
        proof = proof_of_work.verify(entry.race_id, claims["sub"], body.get("pow")) if entry.pow_difficulty else None
        joined = line.join(entry.race_id, bucket_id, claims["sub"], claims["jti"], ip=client_ip(), proof=proof)
        response = jsonify(dict(joined, line=f"{body['course']}/{body['pace_group']}"))
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
        return jsonify(my_place(race, access_claims()))

    @blp.response(204)
    @blp.doc(security=BEARER)
    @blp.alt_response(404, description="not_in_line")
    def delete(self, race):
        """Leave the line (or give back a held place)."""
        claims = access_claims()
        entry = catalogue.lookup(race)
        ensure_not_revoked(claims)
        kind, _current = line.leave(entry.race_id, claims["sub"])
        if kind == "H":
            services.release_hold(entry.race_id, int(claims["sub"]))
        elif kind in ("none", "X", "R", "busy"):
            if kind == "busy":
                raise DomainError("you are being admitted right now; try again in a moment", "busy", status=409,
                                  headers={"Retry-After": 1})
            raise NotFound("you are not waiting in a line of this race", "not_in_line")


def my_place(race, claims, **options):
    """The caller's place in the race's lines (one Redis round trip; options go to line.status); raises NotFound
    (not_in_line)."""
    entry = catalogue.lookup(race)
    view = line.status(entry.race_id, claims["sub"], claims["jti"], **options)
    if view is None:
        raise NotFound("you are not in a line of this race", "not_in_line")
    return view


def in_flight_lane(environ):
    """The request's lane in marathon.core.inflight: joins wait apart, so that the opening's burst of joins delays
    neither the status polls nor the payments of runners already admitted (their holds run out meanwhile)."""
    method = environ.get("REQUEST_METHOD")
    if method == "POST" and environ.get("PATH_INFO", "").endswith("/queue"):
        return "join"
    return "read" if method in ("GET", "HEAD") else "write"
