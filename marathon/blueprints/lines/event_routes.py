"""GET /api/v1/races/{race}/queue/me/events: the runner's place pushed as Server-Sent Events. marathon.web.events
serves it in front of Flask; this view documents it and serves it when that is off."""
from flask import Response, current_app, request
from flask.views import MethodView

from marathon.blueprints.ticketing.blueprint import blp
from marathon.core.security import BEARER
from marathon.web import events

STREAM_DOC = {
    "description": (
        "`text/event-stream`. Each event's `data` is the document of `GET .../queue/me`; one comes at once, then one "
        "on every change of `status` and, while waiting, with fresh `position`/`eta_s` when they moved (every 3-30 s "
        "by the ETA). Comment lines (`: hb`) every 15 s. Each event has an `id`; the stream ends after a final status "
        "(`confirmed`, `expired`, `sold_out`, `left`)."),
    "content": {"text/event-stream": {"schema": {"type": "string"},
                                      "example": 'id: 1764300000000\ndata: {"status":"waiting","position":12}\n\n'}},
}
PARAMETERS = [
    {"in": "query", "name": "access_token", "required": False, "schema": {"type": "string"},
     "description": "the access token, for clients that cannot send `Authorization: Bearer` (browsers' EventSource)"},
    {"in": "header", "name": "Last-Event-ID", "required": False, "schema": {"type": "string"},
     "description": "sent by EventSource on reconnect: the stream resumes with the current document"},
]


@blp.route("/races/<race>/queue/me/events")
class MyPlaceEvents(MethodView):

    @blp.doc(security=BEARER, parameters=PARAMETERS, responses={200: STREAM_DOC})
    @blp.alt_response(404, description="not_in_line, or race_not_found (as JSON, before any event)")
    def get(self, race):
        """The caller's place pushed as it changes (Server-Sent Events): token from the header or `access_token`."""
        token = events.token_of(request.headers.get("Authorization", ""), request.query_string.decode())
        body = events.open_stream(current_app._get_current_object(), race, token, request.headers.get("Last-Event-ID"))
        return Response(body, headers=events.STREAM_HEADERS, direct_passthrough=True)
