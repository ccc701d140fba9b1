"""Malformed input is the caller's error: deep nesting, lone surrogates and odd headers give 4xx JSON, never 500."""
import json

import pytest

from marathon.blueprints.payment.providers.base import SIGNATURE_HEADER
from tests.conftest import PASSWORD
from tests.factories import make_race

DEEP = ("[" * 30_000 + "]" * 30_000).encode()
DEEP_OBJECT = ('{"a":' * 30_000 + "1" + "}" * 30_000).encode()
WRITES = [
    ("POST", "/api/v1/auth/login", False),
    ("POST", "/api/v1/auth/signup", False),
    ("POST", "/api/v1/races/test-race/queue", True),
    ("PATCH", "/api/v1/registrations/1", True),
    ("POST", "/api/v1/payments", True),
    ("POST", "/api/v1/payments/ord_x/confirm", True),
    ("POST", "/api/v1/auth/logout", True),
    ("POST", "/api/v1/payments/webhook", False),
]


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT], ids=["array", "object"])
@pytest.mark.parametrize("method, path, signed_in", WRITES)
def test_json_nested_very_deep_is_a_json_400(app, client, users, clock, method, path, signed_in, body, caplog):
    with app.app_context():
        make_race(clock, opens_in_s=-1)
    app.config.update(MAX_CONTENT_LENGTH=1024 * 1024)  # the nesting, not the size, is what is tried here
    headers = {"Content-Type": "application/json"} | (users.headers() if signed_in else {})
    answer = client.open(path, method=method, data=body, headers=headers)
    assert answer.status_code == 400, (path, answer.status_code, answer.get_data()[:200])
    assert answer.get_json()["code"] == 400
    assert "Traceback" not in caplog.text


def test_a_lone_surrogate_in_the_login_email_is_refused(client):
    body = '{"email": "a\\ud800@example.com", "password": "whatever it is"}'
    answer = client.post("/api/v1/auth/login", data=body, headers={"Content-Type": "application/json"})
    assert answer.status_code in (400, 422) and answer.get_json()["code"] == answer.status_code


@pytest.mark.parametrize("field", ["name", "email", "password", "phone"])
def test_a_lone_surrogate_in_a_signup_field_is_refused(client, field):
    fields = {"email": "s@example.com", "password": PASSWORD, "name": "Surrogate", "birth_date": "1990-01-01",
              "phone": "010-1234-5678"}
    text = json.dumps(fields)
    value = json.dumps(fields[field])
    body = text.replace(value, value[:-1] + '\\udc80"', 1)
    answer = client.post("/api/v1/auth/signup", data=body, headers={"Content-Type": "application/json"})
    assert answer.status_code in (400, 422) and answer.get_json()["code"] == answer.status_code


def test_a_non_ascii_signature_header_is_a_400(client):
    body = json.dumps({"id": "e", "eventType": "PAYMENT_STATUS_CHANGED", "data": {}}).encode()
    answer = client.post("/api/v1/payments/webhook", data=body,
                         headers={"Content-Type": "application/json", SIGNATURE_HEADER: "sha256=\u00e9\u00e9"})
    assert answer.status_code == 400 and answer.get_json()["reason"] == "bad_signature"
