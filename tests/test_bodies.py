"""ReadBodyFirst on its own: the body in memory before the app runs, 408 past the deadline, 413 past the limit."""
import io
import json

import gevent

from marathon.web.bodies import ReadBodyFirst

CONFIG = {"MAX_CONTENT_LENGTH": 100, "BODY_READ_TIMEOUT_S": 0.2}


class Stalled(io.BytesIO):
    """Gives its bytes, then waits forever (a client that stopped sending), as gevent's socket read would."""

    def read(self, size=-1):
        chunk = super().read(size)
        if not chunk:
            gevent.sleep(60)
        return chunk


def run(environ):
    seen = {}

    def app(env, start_response):
        seen["body"] = env["wsgi.input"].read()
        start_response("200 OK", [])
        return [b"ok"]

    answer = {}

    def start_response(status, headers):
        answer.update(status=status, headers=dict(headers))

    body = b"".join(ReadBodyFirst(app, CONFIG)(environ, start_response))
    return answer, body, seen


def test_the_app_gets_the_whole_body_from_memory():
    answer, body, seen = run({"CONTENT_LENGTH": "5", "wsgi.input": io.BytesIO(b"hello")})
    assert answer["status"] == "200 OK" and seen["body"] == b"hello"


def test_a_stalled_body_is_a_json_408_and_the_app_never_runs():
    answer, body, seen = run({"CONTENT_LENGTH": "60", "wsgi.input": Stalled(b'{"email":')})
    assert answer["status"].startswith("408") and answer["headers"]["Connection"] == "close"
    assert json.loads(body) == {"code": 408, "status": "Request Timeout", "reason": "body_timeout",
                                "message": "the request body did not arrive within 0.2 s"}
    assert seen == {}


def test_too_large_announced_or_chunked_is_413():
    answer, body, seen = run({"CONTENT_LENGTH": "101", "wsgi.input": io.BytesIO(b"x" * 101)})
    assert answer["status"].startswith("413") and json.loads(body)["reason"] == "body_too_large" and seen == {}
    answer, body, seen = run({"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": io.BytesIO(b"x" * 500)})
    assert answer["status"].startswith("413") and seen == {}
    answer, body, seen = run({"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": io.BytesIO(b"x" * 50)})
    assert answer["status"] == "200 OK" and seen["body"] == b"x" * 50


def test_requests_without_a_body_pass_untouched():
    stream = io.BytesIO(b"")
    answer, _body, seen = run({"REQUEST_METHOD": "GET", "wsgi.input": stream})
    assert answer["status"] == "200 OK" and seen["body"] == b"" and stream.tell() == 0
