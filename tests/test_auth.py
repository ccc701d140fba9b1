"""Accounts and tokens through the HTTP API."""
from datetime import timedelta

from flask_jwt_extended import create_access_token

from tests.conftest import PASSWORD


def test_signup_login_me_refresh_logout(client, users):
    runner = users.signup(email="Kim@Example.com", name="김민수")
    assert runner["id"] > 0
    tokens = users.login("kim@example.com")
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 900
    access = {"Authorization": f"Bearer {tokens['access_token']}"}
    refresh = {"Authorization": f"Bearer {tokens['refresh_token']}"}

    me = client.get("/api/v1/auth/me", headers=access)
    assert me.status_code == 200
    assert me.get_json() == {"id": runner["id"], "email": "kim@example.com", "name": "김민수", "roles": ["runner"]}

    renewed = client.post("/api/v1/auth/refresh", headers=refresh)
    assert renewed.status_code == 200
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {renewed.get_json()['access_token']}"}).status_code == 200

    out = client.post("/api/v1/auth/logout", headers=access, json={"refresh_token": tokens["refresh_token"]})
    assert out.status_code == 204
    after = client.get("/api/v1/auth/me", headers=access)
    assert after.status_code == 401 and after.get_json()["reason"] == "token_revoked"
    assert client.post("/api/v1/auth/refresh", headers=refresh).get_json()["reason"] == "token_revoked"


def test_logout_without_body_revokes_the_access_token(client, users):
    headers = users.headers()
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401


def test_duplicate_email_is_refused(client, users):
    users.signup(email="dup@example.com")
    again = client.post("/api/v1/auth/signup", json={
        "email": "DUP@example.com", "password": PASSWORD, "name": "Other Person",
        "birth_date": "1980-01-01", "phone": "010-9999-8888"})
    assert again.status_code == 409
    assert again.get_json()["reason"] == "email_taken"


def test_same_person_with_other_phone_formatting_is_refused(client, users):
    users.signup(email="a@example.com", name="Lee Ji Eun", phone="010-1234-5678", birth_date="1993-05-16")
    for phone in ("01012345678", "+82 10 1234 5678"):
        again = client.post("/api/v1/auth/signup", json={
            "email": f"{phone[-4:]}b@example.com", "password": PASSWORD, "name": "lee  ji eun",
            "birth_date": "1993-05-16", "phone": phone})
        assert again.status_code == 409, phone
        assert again.get_json()["reason"] == "identity_taken"


def test_bad_signup_bodies_name_the_fields(client):
    response = client.post("/api/v1/auth/signup", json={
        "email": "not-an-email", "password": "short", "name": "", "birth_date": "17/05/1990", "phone": "call me"})
    assert response.status_code == 422
    body = response.get_json()
    assert set(body["errors"]["json"]) == {"email", "password", "name", "birth_date", "phone"}
    assert body["code"] == 422 and body["status"] == "Unprocessable Entity"
    assert "email" in body["message"]
    missing = client.post("/api/v1/auth/signup", json={})
    assert set(missing.get_json()["errors"]["json"]) == {"email", "password", "name", "birth_date", "phone"}
    extra = client.post("/api/v1/auth/signup", json={"roles": "admin"})
    assert "roles" in extra.get_json()["errors"]["json"]


def test_malformed_json_is_a_json_400(client):
    response = client.post("/api/v1/auth/login", data="{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["code"] == 400


def test_login_answers_the_same_for_unknown_email_and_wrong_password(client, users):
    users.signup(email="known@example.com")
    wrong = client.post("/api/v1/auth/login", json={"email": "known@example.com", "password": "wrong password!"})
    unknown = client.post("/api/v1/auth/login", json={"email": "nobody@example.com", "password": "wrong password!"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json() == unknown.get_json()


def test_token_problems_are_json_401s(app, client, users):
    users.signup(email="t@example.com")
    tokens = users.login("t@example.com")
    cases = {
        "token_missing": {},
        "token_invalid": {"Authorization": "Bearer not.a.token"},
        "wrong_token_type": {"Authorization": f"Bearer {tokens['refresh_token']}"},
    }
    with app.app_context():
        expired = create_access_token(identity="1", expires_delta=timedelta(seconds=-5))
        cases["token_expired"] = {"Authorization": f"Bearer {expired}"}
    tampered = tokens["access_token"][:-3] + ("AAA" if not tokens["access_token"].endswith("AAA") else "BBB")
    cases["token_invalid"] = {"Authorization": f"Bearer {tampered}"}
    for reason, headers in cases.items():
        response = client.get("/api/v1/auth/me", headers=headers)
        assert response.status_code == 401, reason
        assert response.get_json()["reason"] == reason
    access_as_refresh = client.post("/api/v1/auth/refresh", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert access_as_refresh.status_code == 401 and access_as_refresh.get_json()["reason"] == "wrong_token_type"


def test_create_admin_command_creates_and_promotes(app, runner, users):
    result = runner.invoke(args=["users", "create-admin", "--email", "boss@example.com", "--password", "boss password 1"])
    assert result.exit_code == 0, result.output
    assert users.login("boss@example.com", "boss password 1")
    me = users.client.get("/api/v1/auth/me", headers=users.headers("boss@example.com", "boss password 1"))
    assert "admin" in me.get_json()["roles"]

    users.signup(email="runner@example.com")
    promoted = runner.invoke(args=["users", "create-admin", "--email", "runner@example.com", "--password", "new password 1",
                                 "--promote"])
    assert promoted.exit_code == 0, promoted.output
    me = users.client.get("/api/v1/auth/me", headers=users.headers("runner@example.com", "new password 1"))
    assert set(me.get_json()["roles"]) == {"admin", "runner"}

    short = runner.invoke(args=["users", "create-admin", "--email", "x@example.com", "--password", "short"])
    assert short.exit_code != 0
