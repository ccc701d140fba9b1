"""The in-flight bound: each lane has its own gate, and joins wait apart from status polls and payments."""
from marathon.web.inflight import in_flight_lane, InFlightLimit, START_KEY


def test_lanes_of_the_rush():
    assert in_flight_lane({"REQUEST_METHOD": "POST", "PATH_INFO": "/api/v1/races/7/queue"}) == "join"
    assert in_flight_lane({"REQUEST_METHOD": "GET", "PATH_INFO": "/api/v1/races/7/queue/me"}) == "read"
    assert in_flight_lane({"REQUEST_METHOD": "POST", "PATH_INFO": "/api/v1/payments"}) == "write"
    assert in_flight_lane({"REQUEST_METHOD": "DELETE", "PATH_INFO": "/api/v1/races/7/queue/me"}) == "write"


def test_a_request_passes_its_lanes_gate_and_is_stamped():
    seen = []

    def app(environ, start_response):
        seen.append((environ[START_KEY] > 0, limited.gates["join"].counter))
        return [b"ok"]

    limited = InFlightLimit(app, 2, in_flight_lane)
    body = limited({"REQUEST_METHOD": "POST", "PATH_INFO": "/api/v1/races/1/queue"}, None)
    assert body == [b"ok"] and seen == [(True, 1)] and limited.gates["join"].counter == 2
