"""API fuzzing: schemathesis generates requests for every operation of the live OpenAPI document (valid and invalid
bodies, queries and path values), as a runner and as an admin, and checks every answer: never a 5xx, and status,
headers, content type and body as the document says."""
import itertools
import os
from datetime import timedelta

import pytest
import schemathesis
from flask_jwt_extended import create_access_token, create_refresh_token
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi import checks as openapi_checks

from marathon import create_app
from marathon.blueprints.auth.services import make_admin
from tests.chaos_tools import make_runners
from tests.factories import make_race

# The checks that the contract asks for. schemathesis's other default checks judge API design choices the contract
# makes differently (e.g. positive_data_acceptance wants 2xx for any schema-valid body, but a schema-valid course
# code that the race does not have is a 422 here by contract).
def status_documented(ctx, response, case):
    """Stricter than status_code_conformance, which accepts anything when a 'default' response exists (flask-smorest
    documents one on every operation): the status must be one the operation lists by number."""
    documented = case.operation.definition.raw.get("responses", {})
    if str(response.status_code) not in documented:
        raise AssertionError(f"{case.method} {case.path} answered {response.status_code}, which its documentation "
                             f"does not list ({', '.join(sorted(documented))}): {response.text[:300]}")


CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_documented,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.negative_data_rejection,
]
RACE_SLUG = "fuzz-race"
# examples per operation, generation mode and role (FUZZ_EXAMPLES=100 for a deeper run); in-process, under 2 minutes
MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))


@pytest.fixture
def fuzzed(app, clock):
    """The app with one open race, a runner and an admin: the state the fuzzed requests meet."""
    with app.app_context():
        race = make_race(clock, slug=RACE_SLUG, opens_in_s=-60,
                         buckets=(("10K", "5", 5), ("HALF", "4", 5)))
        race_id = race.id
        admin = make_admin("fuzz-admin@example.com", "admin password 1")
        app.config["FUZZ_ADMIN_ID"] = admin.id
        app.config["FUZZ_RACE_ID"] = race_id
    return app


def _operations():
    """Every (method, path) of the live OpenAPI document, read at collection time from an app that needs no
    database or Redis to describe itself: endpoints that land later are fuzzed without editing this file."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "REDIS_URL": "redis://127.0.0.1:1/0"})
    spec = app.test_client().get("/api/openapi.json").get_json()
    return [(method.upper(), path) for path, item in sorted(spec["paths"].items())
            for method in item if method in ("get", "post", "put", "patch", "delete")]


OPERATIONS = _operations()
_turn = itertools.count()


def _tokens(app, user_id, roles):
    with app.app_context():
        claims = {"roles": roles}
        return (create_access_token(identity=str(user_id), additional_claims=claims, expires_delta=timedelta(hours=1)),
                create_refresh_token(identity=str(user_id), additional_claims=claims))


def _call(case, app, as_admin):
    """A fresh token for each call (logout revokes the one it is given), the refresh token where it is the one
    asked for, and half the calls on the real race so that more than the 404 path is explored."""
    if as_admin:
        user_id, roles = app.config["FUZZ_ADMIN_ID"], ["admin"]
    else:
        with app.app_context():
            user_id = make_runners(1, f"fuzz{next(_turn)}-")[0][0]
        roles = ["runner"]
    access, refresh = _tokens(app, user_id, roles)
    token = refresh if case.path.endswith("/auth/refresh") else access
    if case.path_parameters and "race" in case.path_parameters and next(_turn) % 2:
        case.path_parameters["race"] = RACE_SLUG
    response = case.call(headers={"Authorization": f"Bearer {token}"})
    case.validate_response(response, checks=CHECKS)


@pytest.mark.parametrize("role", ["runner", "admin"])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
@pytest.mark.parametrize("method, path", OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_fuzz_operation(fuzzed, method, path, mode, role):
    operation = schemathesis.openapi.from_wsgi("/api/openapi.json", fuzzed)[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None,
              phases=[Phase.explicit, Phase.generate])
    def fuzz(case):
        _call(case, fuzzed, as_admin=role == "admin")

    try:
        fuzz()
    except Unsatisfiable:
        # e.g. GET /races: no query, no body, and a path string that any value satisfies
        assert mode is GenerationMode.NEGATIVE, "no valid input could be generated"
        pytest.skip("this operation has no input that can be made invalid")
