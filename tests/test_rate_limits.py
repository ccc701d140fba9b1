"""Rate limits: every 429 in the contract's shape with Retry-After and X-RateLimit-*, and a hot path that pays nothing."""
import redis
from sqlalchemy import event

from marathon.extensions import db
from tests.conftest import PASSWORD
from tests.factories import make_race
from tests.support.api import join, me


def assert_limited(response, reason="rate_limited"):
    assert response.status_code == 429, response.get_json()
    body = response.get_json()
    assert body["code"] == 429 and body["status"] == "Too Many Requests" and body["reason"] == reason
    assert int(response.headers["Retry-After"]) >= 1
    assert response.headers["X-RateLimit-Limit"] and response.headers["X-RateLimit-Remaining"] == "0"
    assert int(response.headers["X-RateLimit-Reset"]) > 0


def test_status_hammering_is_429_with_retry_after(app, client, users, clock):
    with app.app_context():
        make_race(clock, opens_in_s=-1)
    headers = users.headers()
    retry = join(client, headers).get_json()["retry_after_s"]
    for _ in range(5):
        assert_limited(me(client, headers), reason="too_soon")
    clock.advance(retry)
    assert me(client, headers).status_code == 200


def test_status_per_address_when_on(app, client, users, clock):
    app.config.update(RATE_LIMIT_BY_IP=True, RATELIMIT_STATUS_PER_IP="3/minute")
    with app.app_context():
        make_race(clock, opens_in_s=-1)
    headers = users.headers()
    join(client, headers)
    answers = []
    for _ in range(4):
        clock.advance(10)
        answers.append(me(client, headers))
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    assert_limited(answers[3])
    assert answers[3].headers["X-RateLimit-Limit"] == "3"
    # the same runners behind another address are not affected
    other = client.get("/api/v1/races/test-race/queue/me", headers=headers,
                       environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert other.status_code == 200


def test_password_guessing_is_429(app, client, users):
    victim, bystander = users.signup(), users.signup()
    wrong = {"email": victim["email"], "password": "not the password"}
    limit = int(app.config["RATELIMIT_LOGIN_PER_ACCOUNT"].split("/")[0])
    for _ in range(limit):
        assert client.post("/api/v1/auth/login", json=wrong).status_code == 401
    assert_limited(client.post("/api/v1/auth/login", json=wrong))
    # while the guessing window lasts, even the right password from that address waits
    assert_limited(client.post("/api/v1/auth/login", json={"email": victim["email"], "password": PASSWORD}))
    # other accounts, and the victim from another address, are not locked out
    assert users.login(bystander["email"])["access_token"]
    elsewhere = client.post("/api/v1/auth/login", json={"email": victim["email"], "password": PASSWORD},
                            environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert elsewhere.status_code == 200


def test_successful_logins_do_not_count_as_guesses(app, client, users):
    user = users.signup()
    limit = int(app.config["RATELIMIT_LOGIN_PER_ACCOUNT"].split("/")[0])
    for _ in range(limit + 2):
        users.login(user["email"])


def test_logins_and_signups_per_address_when_on(app, client, users):
    app.config.update(RATE_LIMIT_BY_IP=True, RATELIMIT_LOGIN_PER_IP="4/minute", RATELIMIT_SIGNUP_PER_IP="2/minute")
    users.signup()
    users.signup()
    third = client.post("/api/v1/auth/signup", json={"email": "x@example.com", "password": PASSWORD, "name": "X",
                                                     "birth_date": "1990-01-01", "phone": "010-9999-0000"})
    assert_limited(third)
    for index in range(4):
        client.post("/api/v1/auth/login", json={"email": f"nobody{index}@example.com", "password": "guess guess"})
    assert_limited(client.post("/api/v1/auth/login", json={"email": "runner1@example.com", "password": PASSWORD}))


def test_join_per_address_when_on(app, client, users, clock):
    app.config.update(RATE_LIMIT_BY_IP=True, RATELIMIT_JOIN_PER_IP="2/minute")
    with app.app_context():
        make_race(clock, opens_in_s=-1)
    runners = [users.headers() for _ in range(3)]
    assert join(client, runners[0]).status_code == 202
    assert join(client, runners[1]).status_code == 202
    assert_limited(join(client, runners[2]))


def test_join_and_status_pay_one_redis_round_trip_and_no_sql(app, client, users, clock, redis_server, monkeypatch):
    """The hot path with RATE_LIMIT_BY_IP off and no proof of work: one Redis round trip each, no SQL."""
    with app.app_context():
        make_race(clock, opens_in_s=-1)
    first, second = users.headers(), users.headers()
    assert join(client, first).status_code == 202  # warms the race catalogue and the scripts
    clock.advance(10)
    assert me(client, first).status_code == 200
    sent, statements = [], []
    real_send = redis.connection.AbstractConnection.send_packed_command

    def counting_send(connection, command, *args, **kwargs):
        sent.append(command)
        return real_send(connection, command, *args, **kwargs)

    def count(*_args):
        statements.append(1)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting_send)
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert join(client, second).status_code == 202
        clock.advance(10)
        assert me(client, second).status_code == 200
    finally:
        with app.app_context():
            event.remove(db.engine, "before_cursor_execute", count)
    assert len(sent) == 2, sent
    assert statements == []
    probe = redis.Redis.from_url(redis_server.url)
    assert not probe.keys("*LIMITER*") and not probe.keys("m:rl*")


def test_failed_logins_back_off_per_account_across_addresses(app, client, users, clock):
    """A new address does not buy ten more guesses: past LOGIN_BACKOFF_AFTER failures of one account, from anywhere,
    each try waits twice as long as the one before (doubling up to LOGIN_BACKOFF_MAX_S)."""
    victim = users.signup()
    wrong = {"email": victim["email"], "password": "wrong password!"}
    after = app.config["LOGIN_BACKOFF_AFTER"]
    for index in range(after):  # each from its own address: the per-address limit never trips
        answer = client.post("/api/v1/auth/login", json=wrong, environ_base={"REMOTE_ADDR": f"10.0.0.{index + 1}"})
        assert answer.status_code == 401
    blocked = client.post("/api/v1/auth/login", json=wrong, environ_base={"REMOTE_ADDR": "10.0.1.1"})
    assert blocked.status_code == 429 and blocked.get_json()["reason"] == "rate_limited"
    assert int(blocked.headers["Retry-After"]) >= 1
    # the owner too has to wait: the answer must not tell a right password from a wrong one while blocked
    right = {"email": victim["email"], "password": PASSWORD}
    assert client.post("/api/v1/auth/login", json=right, environ_base={"REMOTE_ADDR": "10.0.2.1"}).status_code == 429
    clock.advance(int(blocked.headers["Retry-After"]))
    assert client.post("/api/v1/auth/login", json=wrong, environ_base={"REMOTE_ADDR": "10.0.1.2"}).status_code == 401
    again = client.post("/api/v1/auth/login", json=wrong, environ_base={"REMOTE_ADDR": "10.0.1.3"})
    assert again.status_code == 429 and int(again.headers["Retry-After"]) >= 2  # the wait doubled
    clock.advance(int(again.headers["Retry-After"]))
    assert client.post("/api/v1/auth/login", json=right, environ_base={"REMOTE_ADDR": "10.0.2.2"}).status_code == 200
    # a success clears the account's count
    assert client.post("/api/v1/auth/login", json=wrong, environ_base={"REMOTE_ADDR": "10.0.1.4"}).status_code == 401
    # unknown accounts back off the same way, so a 429 tells nothing about which emails exist
    for index in range(after):
        client.post("/api/v1/auth/login", json={"email": "nobody@example.com", "password": "x"},
                    environ_base={"REMOTE_ADDR": f"10.0.3.{index + 1}"})
    assert client.post("/api/v1/auth/login", json={"email": "nobody@example.com", "password": "x"}).status_code == 429


def test_signup_answers_that_name_a_taken_account_are_counted_per_address(app, client, users):
    """email_taken and identity_taken are the contract's, so they stay; probing many of them from one address is
    what enumeration needs, and it is limited (RATELIMIT_SIGNUP_TAKEN_PER_IP)."""
    app.config.update(RATE_LIMIT_BY_IP=True, RATELIMIT_SIGNUP_TAKEN_PER_IP="3/hour")
    taken = users.signup()
    for index in range(3):
        probe = client.post("/api/v1/auth/signup", json={
            "email": taken["email"], "password": PASSWORD, "name": f"Probe {index}", "birth_date": "1990-01-01",
            "phone": f"010-8888-{index:04d}"})
        assert probe.status_code == 409
    assert_limited(client.post("/api/v1/auth/signup", json={
        "email": taken["email"], "password": PASSWORD, "name": "Probe x", "birth_date": "1990-01-01",
        "phone": "010-8888-9999"}))
    fresh = client.post("/api/v1/auth/signup", json={
        "email": "fresh@example.com", "password": PASSWORD, "name": "Fresh", "birth_date": "1990-01-01",
        "phone": "010-8888-7777"}, environ_base={"REMOTE_ADDR": "10.7.7.7"})
    assert fresh.status_code == 201
