"""Slow request bodies hold no in-flight lane (issue 14, item 2): the real web process from the Procfile, with a
hundred senders that announce 60,000 bytes, send 9 and stall, still answers signups and logins at once; each slow
sender gets a JSON 408 when BODY_READ_TIMEOUT_S runs out."""
import json
import socket
import time
import uuid

import pytest

from marathon.tooling.redis_server import free_port
from tests.processes import http, start, stop, wait_until

SLOW_SENDERS = 100
TIMEOUT_S = 6


def slow_sender(port, path="/api/v1/auth/login"):
    """A connection that announces a 60,000-byte body, sends 9 bytes of it and then nothing."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall((f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  f"Content-Length: 60000\r\n\r\n").encode() + b'{"email":')
    return sock


def answer_of(sock):
    """(status, JSON body, headers text) of the one answer on a socket, read until the server closes it."""
    raw = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body), head.decode().lower()


@pytest.fixture
def web(settings, migrated, tmp_path):
    port = free_port()
    # one worker, its default 64 lanes per kind: before bodies were read first, 64 slow senders held every write lane
    process = start("web", settings, tmp_path / "web.log", PORT=port, WEB_CONCURRENCY=1, RATE_LIMIT_BY_IP="off",
                    BODY_READ_TIMEOUT_S=TIMEOUT_S)
    try:
        wait_until(lambda: http("GET", f"http://127.0.0.1:{port}/healthz")[0] == 200, what="gunicorn to answer")
        yield port
    finally:
        stop(process)
    log = (tmp_path / "web.log").read_text()
    assert "Traceback" not in log, log


def test_a_hundred_slow_senders_do_not_stall_signups_and_logins(web):
    port = web
    senders = [slow_sender(port) for _ in range(SLOW_SENDERS // 2)]
    senders += [slow_sender(port, "/api/v1/auth/signup") for _ in range(SLOW_SENDERS // 2)]
    started = time.monotonic()
    try:
        time.sleep(0.5)  # every slow sender has reached the server and is waiting on its body
        email = f"runner-{uuid.uuid4().hex[:8]}@example.com"
        status, body = http("POST", f"http://127.0.0.1:{port}/api/v1/auth/signup", timeout=TIMEOUT_S - 2, body={
            "email": email, "password": "a long enough password", "name": "Slow Test",
            "birth_date": "1990-01-01", "phone": f"010-{uuid.uuid4().int % 10000:04d}-{uuid.uuid4().int % 10000:04d}"})
        assert status == 201, body
        status, body = http("POST", f"http://127.0.0.1:{port}/api/v1/auth/login", timeout=TIMEOUT_S - 2,
                            body={"email": email, "password": "a long enough password"})
        assert status == 200 and body["access_token"], body
        served = time.monotonic() - started
        assert served < TIMEOUT_S - 1, f"writes took {served:.1f} s behind the slow senders"
        # the slow senders are answered 408 when their time runs out, in the contract's error shape, and let go
        for sock in senders[:5] + senders[-5:]:
            status, body, head = answer_of(sock)
            assert status == 408 and body["code"] == 408 and body["reason"] == "body_timeout", body
            assert "connection: close" in head
        assert time.monotonic() - started >= TIMEOUT_S - 1
    finally:
        for sock in senders:
            sock.close()


def test_an_announced_body_over_the_limit_is_413_at_once(web):
    sock = socket.create_connection(("127.0.0.1", web), timeout=10)
    sock.sendall(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 10000000\r\n\r\n{")
    status, body, _head = answer_of(sock)
    assert status == 413 and body["code"] == 413, body


@pytest.fixture
def quick_web(settings, migrated, tmp_path):
    port = free_port()
    process = start("web", settings, tmp_path / "web.log", PORT=port, WEB_CONCURRENCY=1, RATE_LIMIT_BY_IP="off",
                    WEB_HEADER_TIMEOUT=2, WEB_KEEPALIVE=4)
    try:
        wait_until(lambda: http("GET", f"http://127.0.0.1:{port}/healthz")[0] == 200, what="gunicorn to answer")
        yield port
    finally:
        stop(process)


def test_slow_headers_and_idle_connections_are_let_go(quick_web):
    slow_headers = socket.create_connection(("127.0.0.1", quick_web), timeout=30)
    slow_headers.sendall(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    idle = socket.create_connection(("127.0.0.1", quick_web), timeout=30)
    started = time.monotonic()
    raw = slow_headers.recv(65536)
    assert raw.startswith(b"HTTP/1.1 400"), raw
    assert 1.5 < time.monotonic() - started < 4
    while slow_headers.recv(65536):  # the rest of the 400, then the server closes the connection
        pass
    assert idle.recv(65536) == b""  # closed once WEB_KEEPALIVE passed without a request line
    assert 3.5 < time.monotonic() - started < 8
    # a prompt client is served as ever
    assert http("GET", f"http://127.0.0.1:{quick_web}/healthz")[0] == 200
