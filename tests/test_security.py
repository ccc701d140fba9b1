"""Hostile callers: another runner's ids (BOLA), admin routes without the role, bad tokens on every authenticated
route, fields a client must not set, secrets in the logs, oversized bodies. Routes are discovered from the app's
url_map and OpenAPI document, so endpoints that land later are covered without editing this file."""
import logging
import re
from datetime import timedelta

import pytest
from flask_jwt_extended import create_access_token

from marathon import create_app
from marathon.blueprints.registrations import services
from marathon.blueprints.registrations.models import Hold
from marathon.extensions import db
from tests.conftest import PASSWORD
from tests.factories import make_race, run_rounds

SLUG = "test-race"


def _spec_app():
    return create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "REDIS_URL": "redis://127.0.0.1:1/0"})


def _spec():
    return _spec_app().test_client().get("/api/openapi.json").get_json()


SPEC = _spec()
OPERATIONS = [(method.upper(), path, operation) for path, item in sorted(SPEC["paths"].items())
              for method, operation in item.items() if method in ("get", "post", "put", "patch", "delete")]
AUTHENTICATED = [(method, path) for method, path, operation in OPERATIONS if operation.get("security")]
WITH_BODY = [(method, path) for method, path, operation in OPERATIONS if "requestBody" in operation]
ADMIN_RULES = sorted({(method, rule.rule) for rule in _spec_app().url_map.iter_rules()
                      if rule.rule.startswith("/api/v1/admin") for method in rule.methods - {"HEAD", "OPTIONS"}})
# bodies that pass validation, so that what answers is the token check and not the schema
VALID_BODIES = {
    ("POST", "/api/v1/races/{race}/queue"): {"course": "10K", "pace_group": "5"},
    ("POST", "/api/v1/races/{race}/ballot"): {"course": "10K", "pace_group": "5"},
    ("POST", "/api/v1/races/{race}/waitlist"): {"course": "10K", "pace_group": "5"},
    ("POST", "/api/v1/auth/logout"): {},
}


def _ids(pairs):
    return [f"{method} {path}" for method, path in pairs] or ["none"]


def _fill(path, values=None):
    """A concrete URL for a documented or Flask path: the race by slug, every other id 1 (or as given)."""
    values = {"race": SLUG, **(values or {})}
    path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", path)
    return re.sub(r"\{(\w+)\}", lambda match: str(values.get(match.group(1), 1)), path)


@pytest.fixture
def race(app, clock):
    with app.app_context():
        return make_race(clock, slug=SLUG, opens_in_s=-1, buckets=(("10K", "5", 2), ("HALF", "4", 2))).id


def _caller(users, path):
    """An admin's headers on admin routes (a runner would stop at 403 before the body is read), else a runner's."""
    return users.admin_headers() if path.startswith("/api/v1/admin") else users.headers()


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


# -- BOLA: another runner's ids answer 404, as if they did not exist -------------------------------------------------

def _owner_with_registration(app, client, users):
    """A runner who joined, was admitted, and paid: a hold and a registration that are theirs."""
    owner = users.headers()
    assert client.post(f"/api/v1/races/{SLUG}/queue", json={"course": "10K", "pace_group": "5"},
                       headers=owner).status_code == 202
    with app.app_context():
        run_rounds(2)
        hold = db.session.execute(db.select(Hold)).scalars().first()
        registration = services.confirm_hold(hold.id, hold.user_id)
        return owner, {"hold_id": hold.id, "id": registration.id, "registration_id": registration.id,
                       "user_id": hold.user_id}


# (method, path template, body) of every route that names something of one runner's; add rows as routes land
OWNED = [
    ("GET", "/api/v1/registrations/{id}", None),
    ("POST", "/api/v1/registrations/{id}/cancel", {}),
    ("POST", "/api/v1/registrations/{id}/transfer",
     {"to_email": "runner1@example.com", "blood_type": "A+", "emergency_contact": "010-0000-0000"}),
    ("PATCH", "/api/v1/registrations/{id}", {"blood_type": "A+", "emergency_contact": "010-0000-0000"}),
    ("POST", "/api/v1/payments", {"hold_id": "{hold_id}"}),
    ("GET", "/api/v1/holds/{hold_id}", None),
    ("GET", "/api/v1/orders/{order_id}", None),
]


def _route_exists(method, template):
    adapter = _spec_app().url_map.bind("localhost")
    try:
        adapter.match(_fill(template), method=method)
        return True
    except Exception:  # noqa: BLE001 - NotFound or MethodNotAllowed: not on this branch yet
        return False


@pytest.mark.parametrize("method, template, body", OWNED, ids=[f"{m} {t}" for m, t, _ in OWNED])
def test_another_runners_ids_are_404(app, client, users, race, method, template, body):
    if not _route_exists(method, template):
        pytest.skip(f"{method} {template} is not on this branch yet")
    _owner, ids = _owner_with_registration(app, client, users)
    intruder = users.headers()
    if body is not None:
        body = {key: int(_fill(value, ids)) if isinstance(value, str) and value.startswith("{") else value
                for key, value in body.items()}
    answer = client.open(_fill(template, ids), method=method, json=body, headers=intruder)
    assert answer.status_code == 404, (answer.status_code, answer.get_json())


def test_another_runner_cannot_see_or_leave_my_place_in_line(client, users, race):
    owner, intruder = users.headers(), users.headers()
    assert client.post(f"/api/v1/races/{SLUG}/queue", json={"course": "10K", "pace_group": "5"},
                       headers=owner).status_code == 202
    seen = client.get(f"/api/v1/races/{SLUG}/queue/me", headers=intruder)
    assert seen.status_code == 404 and seen.get_json()["reason"] == "not_in_line"
    assert client.delete(f"/api/v1/races/{SLUG}/queue/me", headers=intruder).status_code == 404
    mine = client.get(f"/api/v1/races/{SLUG}/queue/me", headers=owner)
    assert mine.status_code in (200, 429)  # still in line (429: asked again sooner than told)
    assert client.delete(f"/api/v1/races/{SLUG}/queue/me", headers=owner).status_code == 204


# -- admin routes -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method, rule", ADMIN_RULES or [(None, None)], ids=_ids(ADMIN_RULES))
def test_admin_routes_refuse_runners_and_anonymous_callers(client, users, race, method, rule):
    if rule is None:
        pytest.skip("no /api/v1/admin route on this branch yet")
    url = _fill(rule)
    anonymous = client.open(url, method=method, json={})
    assert anonymous.status_code == 401, (anonymous.status_code, anonymous.get_json())
    runner = client.open(url, method=method, json={}, headers=users.headers())
    assert runner.status_code == 403, (runner.status_code, runner.get_json())


# -- bad tokens on every authenticated route --------------------------------------------------------------------

def _bad_tokens(app, client, users):
    user = users.signup()
    tokens = users.login(user["email"])
    revoked = users.login(user["email"])
    assert client.post("/api/v1/auth/logout", json={"refresh_token": revoked["refresh_token"]},
                       headers=_bearer(revoked["access_token"])).status_code == 204
    access = tokens["access_token"]
    head, payload, signature = access.split(".")
    with app.app_context():
        expired = create_access_token(identity=str(user["id"]), additional_claims={"roles": ["runner"]},
                                      expires_delta=timedelta(seconds=-60))
        foreign = create_access_token(identity=str(user["id"]), additional_claims={"roles": ["admin"]})
    forged = foreign.rsplit(".", 1)[0] + "." + ("A" * len(foreign.rsplit(".", 1)[1]))
    return {
        "tampered": f"{head}.{payload}.{signature[:-4]}{'AAAA' if signature[-4:] != 'AAAA' else 'BBBB'}",
        "forged_admin": forged,
        "alg_none": f"eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.",
        "expired": expired,
        "revoked_access": revoked["access_token"],
        "refresh_as_access": tokens["refresh_token"],
        "garbage": "not-a-jwt",
    }, tokens


@pytest.mark.parametrize("method, path", AUTHENTICATED, ids=_ids(AUTHENTICATED))
def test_bad_tokens_are_refused_on_every_authenticated_route(app, client, users, race, method, path):
    bad, good = _bad_tokens(app, client, users)
    if path.endswith("/auth/refresh"):
        bad["access_as_refresh"] = good["access_token"]
        bad.pop("refresh_as_access")
        bad["revoked_refresh"] = bad.pop("revoked_access")
    body = VALID_BODIES.get((method, path), {})
    for kind, token in bad.items():
        answer = client.open(_fill(path), method=method, json=body, headers=_bearer(token))
        assert answer.status_code == 401, (kind, answer.status_code, answer.get_json())
        assert answer.get_json()["code"] == 401


# -- mass assignment ------------------------------------------------------------------------------------------------

FORBIDDEN_FIELDS = {"roles": ["admin"], "amount": 1, "status": "confirmed", "bib": 1, "user_id": 1, "id": 99}


@pytest.mark.parametrize("method, path", WITH_BODY, ids=_ids(WITH_BODY))
def test_fields_a_client_must_not_set_are_refused(app, client, users, race, method, path):
    """Each of roles, amount, status, bib, user_id and id, added to a body, is refused as unknown (422) unless the
    operation documents it as its own input (the contract's confirm takes `amount`, and checks it)."""
    documented = set()
    operation = SPEC["paths"][path][method.lower()]
    for content in operation["requestBody"].get("content", {}).values():
        schema = content.get("schema", {})
        if "$ref" in schema:
            schema = SPEC["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        documented |= set(schema.get("properties", {}))
    headers = _caller(users, path)
    base = VALID_BODIES.get((method, path), {})
    for field, value in FORBIDDEN_FIELDS.items():
        if field in documented:
            continue
        answer = client.open(_fill(path), method=method, json={**base, field: value}, headers=headers)
        assert answer.status_code in (401, 422), (field, answer.status_code, answer.get_json())
        if answer.status_code == 422:
            assert field in str(answer.get_json().get("errors")), answer.get_json()


def test_signup_cannot_make_an_admin(app, client):
    body = {"email": "sneaky@example.com", "password": PASSWORD, "name": "Sneaky", "birth_date": "1990-01-01",
            "phone": "010-9999-0000", "roles": "admin"}
    assert client.post("/api/v1/auth/signup", json=body).status_code == 422
    body.pop("roles")
    assert client.post("/api/v1/auth/signup", json=body).status_code == 201
    login = client.post("/api/v1/auth/login", json={"email": body["email"], "password": PASSWORD}).get_json()
    assert client.get("/api/v1/auth/me", headers=_bearer(login["access_token"])).get_json()["roles"] == ["runner"]


# -- secrets never logged ----------------------------------------------------------------------------------------

def test_a_journey_logs_no_password_token_or_key(app, client, users, race, caplog):
    caplog.set_level(logging.DEBUG)
    user = users.signup()
    tokens = users.login(user["email"])
    headers = _bearer(tokens["access_token"])
    client.post("/api/v1/auth/login", json={"email": user["email"], "password": "wrong " + PASSWORD})
    client.post("/api/v1/auth/signup", json={"email": "bad", "password": PASSWORD + "x"})
    client.post("/api/v1/auth/refresh", headers=_bearer(tokens["refresh_token"]))
    client.get("/api/v1/auth/me", headers=headers)
    client.post(f"/api/v1/races/{SLUG}/queue", json={"course": "10K", "pace_group": "5"}, headers=headers)
    with app.app_context():
        run_rounds(2)
    status = client.get(f"/api/v1/races/{SLUG}/queue/me", headers=headers).get_json()
    payment_key = "fake_secret_payment_key_123"
    if _route_exists("POST", "/api/v1/payments") and status.get("hold"):
        order = client.post("/api/v1/payments", json={"hold_id": status["hold"]["id"]}, headers=headers).get_json()
        client.post(f"/api/v1/payments/{order.get('order_id')}/confirm",
                    json={"payment_key": payment_key, "amount": status["hold"]["amount"]}, headers=headers)
    client.post("/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}, headers=headers)
    client.get("/api/v1/auth/me", headers=headers)  # a revoked token, logged as a refusal at most
    logged = caplog.text + "".join(repr(record.args) for record in caplog.records)
    secrets = {"password": PASSWORD, "access token": tokens["access_token"], "refresh token": tokens["refresh_token"],
               "payment key": payment_key, "SECRET_KEY": app.config["SECRET_KEY"],
               "JWT_SECRET_KEY": app.config["JWT_SECRET_KEY"]}
    for name, secret in secrets.items():
        assert secret not in logged, f"the {name} was logged"


# -- oversized bodies -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method, path", WITH_BODY, ids=_ids(WITH_BODY))
def test_bodies_over_64_kib_are_refused_with_413(client, users, race, method, path):
    assert client.application.config["MAX_CONTENT_LENGTH"] == 64 * 1024
    big = '{"pad": "' + "x" * (64 * 1024) + '"}'
    answer = client.open(_fill(path), method=method, data=big, headers={"Content-Type": "application/json",
                                                                           **_caller(users, path)})
    assert answer.status_code == 413, (answer.status_code, answer.get_json())
    assert answer.get_json()["code"] == 413


# -- ids that no row can have ------------------------------------------------------------------------------------

@pytest.mark.parametrize("ref", ["999999999999999999999999999999", "²", "0", "-1", "1e3", "%00"])
def test_race_refs_no_row_can_have_are_404_not_500(client, users, race, ref):
    """Found by the fuzzer: a 30-digit race id overflowed SQLite's INTEGER (500); '²' passed str.isdigit()."""
    headers = users.headers()
    assert client.get(f"/api/v1/races/{ref}/queue/me", headers=headers).status_code == 404
    joined = client.post(f"/api/v1/races/{ref}/queue", json={"course": "10K", "pace_group": "5"}, headers=headers)
    assert joined.status_code == 404, joined.get_json()


def test_a_nul_byte_the_database_cannot_store_is_a_4xx(client):
    """PostgreSQL refuses NUL in text (psycopg DataError): that is the caller's bad input, never a 500."""
    answer = client.post("/api/v1/auth/login", json={"email": "a\x00b@example.com", "password": "whatever 123"})
    assert answer.status_code in (400, 401), answer.get_json()  # 400 invalid_value on PostgreSQL, 401 on SQLite
