"""Ballot and waitlist endpoints (a race in ballot mode; a sold-out bucket's waitlist in either mode)."""
from flask import jsonify
from flask.views import MethodView

from marathon.blueprints.lines import ballot
from marathon.blueprints.lines.schemas import (BallotEnteredSchema, BallotEntrySchema, BallotStatusSchema,
                                               DrawSchema, NotDrawnSchema, WaitlistJoinSchema,
                                               WaitlistStatusSchema)
from marathon.blueprints.ticketing.blueprint import blp
from marathon.core.limits import per_ip
from marathon.core.net import client_ip
from marathon.core.security import access_claims, BEARER


def _accepted(body):
    response = jsonify(body)
    response.status_code = 202
    return response


@blp.route("/races/<race>/ballot")
class Ballot(MethodView):
    decorators = [per_ip("RATELIMIT_JOIN_PER_IP")]

    @blp.arguments(BallotEntrySchema)
    @blp.response(202, BallotEnteredSchema)
    @blp.doc(security=BEARER)
    @blp.alt_response(409, description="already_entered or already_registered")
    @blp.alt_response(403, description="ballot_not_open")
    @blp.alt_response(400, description="bad_pow")
    def post(self, body, race):
        """Enter the ballot of a course and pace group (with `pow` when the race asks for proof of work)."""
        return _accepted(ballot.enter_ballot(race, body["course"], body["pace_group"], access_claims(),
                                             ip=client_ip(), pow_payload=body.get("pow")))


@blp.route("/races/<race>/ballot/me")
class MyBallotEntry(MethodView):
    @blp.response(200, BallotStatusSchema)
    @blp.doc(security=BEARER)
    @blp.alt_response(404, description="not_entered")
    def get(self, race):
        """The caller's entry: entered, then won / reserve (with rank) / offered / confirmed / expired / lost."""
        return ballot.my_entry(race, access_claims())

    @blp.response(204)
    @blp.doc(security=BEARER)
    @blp.alt_response(404, description="not_entered")
    @blp.alt_response(409, description="ballot_closed")
    def delete(self, race):
        """Withdraw the caller's entry (only before the draw)."""
        ballot.withdraw(race, access_claims())


@blp.route("/races/<race>/draw")
class Draw(MethodView):
    @blp.response(200, DrawSchema)
    @blp.alt_response(404, schema=NotDrawnSchema, description="not_drawn (the body carries `commitment`)")
    def get(self, race):
        """The published draw: seed, entries digest and each bucket's order, recomputable as the README shows."""
        return ballot.published_draw(race)


@blp.route("/races/<race>/waitlist")
class Waitlist(MethodView):
    decorators = [per_ip("RATELIMIT_JOIN_PER_IP")]

    @blp.arguments(WaitlistJoinSchema)
    @blp.response(202, WaitlistStatusSchema)
    @blp.doc(security=BEARER)
    @blp.alt_response(409, description="not_sold_out, already_waitlisted or already_registered")
    def post(self, body, race):
        """Join the waitlist of a sold-out course and pace group: freed places are offered to it in order."""
        return _accepted(ballot.join_waitlist(race, body["course"], body["pace_group"], access_claims()))


@blp.route("/races/<race>/waitlist/me")
class MyWaitlistSeat(MethodView):
    @blp.response(200, WaitlistStatusSchema)
    @blp.doc(security=BEARER)
    @blp.alt_response(404, description="not_waitlisted")
    def get(self, race):
        """The caller's waitlist seat: waiting (position), offered (hold), confirmed, expired or left."""
        return ballot.my_seat(race, access_claims())

    @blp.response(204)
    @blp.doc(security=BEARER)
    @blp.alt_response(404, description="not_waitlisted")
    def delete(self, race):
        """Leave the waitlist (an open offer is given back)."""
        ballot.leave_waitlist(race, access_claims())
