"""Sessions end when they should: admin creation never adopts an account, token versions, rotation, logout."""
from datetime import timedelta

from flask_jwt_extended import create_access_token
from sqlalchemy import update

from tests.conftest import PASSWORD


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def refresh(client, token):
    return client.post("/api/v1/auth/refresh", headers=bearer(token))


def test_create_admin_refuses_an_account_it_did_not_create(client, runner, users):
    users.signup(email="ops@example.com")
    tokens = users.login("ops@example.com")
    result = runner.invoke(args=["users", "create-admin", "--email", "ops@example.com", "--password", "ops password 1"])
    assert result.exit_code != 0 and "--promote" in result.output
    me = client.get("/api/v1/auth/me", headers=bearer(tokens["access_token"]))
    assert me.get_json()["roles"] == ["runner"]
    assert users.login("ops@example.com")  # the password is unchanged too


def test_promote_revokes_every_token_of_the_account(client, runner, users):
    users.signup(email="ops@example.com")
    tokens = users.login("ops@example.com")
    result = runner.invoke(args=["users", "create-admin", "--email", "ops@example.com", "--password", "ops password 1",
                                 "--promote"])
    assert result.exit_code == 0, result.output
    stale = refresh(client, tokens["refresh_token"])
    assert stale.status_code == 401 and stale.get_json()["reason"] == "token_revoked"
    assert client.get("/api/v1/auth/me", headers=bearer(tokens["access_token"])).status_code == 401
    assert client.get("/api/v1/admin/races/x/registrations.csv",
                      headers=bearer(tokens["access_token"])).status_code == 401
    admin = users.headers("ops@example.com", "ops password 1")
    assert set(client.get("/api/v1/auth/me", headers=admin).get_json()["roles"]) == {"admin", "runner"}


def test_admin_routes_check_the_token_version_in_the_database(app, client, users):
    from marathon.blueprints.auth.models import User
    from marathon.extensions import db

    headers = users.admin_headers()
    assert client.get("/api/v1/admin/races/nope/stats", headers=headers).status_code == 404
    with app.app_context():  # bumped behind Redis's back (its copy lost): the database still decides
        db.session.execute(update(User).values(token_version=User.token_version + 1))
        db.session.commit()
    answer = client.get("/api/v1/admin/races/nope/stats", headers=headers)
    assert answer.status_code == 401 and answer.get_json()["reason"] == "token_revoked"


def test_refresh_rotates_and_a_reused_refresh_token_revokes_its_family(client, users):
    users.signup(email="r@example.com")
    first = users.login("r@example.com")["refresh_token"]
    renewed = refresh(client, first)
    assert renewed.status_code == 200
    second = renewed.get_json()["refresh_token"]
    assert second != first
    third = refresh(client, second).get_json()["refresh_token"]
    reused = refresh(client, first)  # a thief replaying a stolen, already rotated token
    assert reused.status_code == 401 and reused.get_json()["reason"] == "token_reused"
    assert refresh(client, third).status_code == 401  # the whole family is gone
    other = users.login("r@example.com")["refresh_token"]  # another sign-in is another family
    assert refresh(client, other).status_code == 200


def test_logout_revokes_the_refresh_token_in_the_body(client, users):
    users.signup(email="l@example.com")
    tokens = users.login("l@example.com")
    out = client.post("/api/v1/auth/logout", headers=bearer(tokens["access_token"]),
                      json={"refresh_token": tokens["refresh_token"]})
    assert out.status_code == 204
    assert refresh(client, tokens["refresh_token"]).status_code == 401


def test_logout_with_an_expired_access_token_and_a_valid_refresh_token(app, client, users):
    runner = users.signup(email="e@example.com")
    tokens = users.login("e@example.com")
    with app.app_context():
        expired = create_access_token(identity=str(runner["id"]), expires_delta=timedelta(seconds=-5))
    alone = client.post("/api/v1/auth/logout", headers=bearer(expired))
    assert alone.status_code == 401 and alone.get_json()["reason"] == "token_expired"
    out = client.post("/api/v1/auth/logout", headers=bearer(expired), json={"refresh_token": tokens["refresh_token"]})
    assert out.status_code == 204
    assert refresh(client, tokens["refresh_token"]).status_code == 401


def test_logout_refuses_another_accounts_refresh_token(client, users):
    users.signup(email="a@example.com")
    users.signup(email="b@example.com")
    a, b = users.login("a@example.com"), users.login("b@example.com")
    answer = client.post("/api/v1/auth/logout", headers=bearer(a["access_token"]),
                         json={"refresh_token": b["refresh_token"]})
    assert answer.status_code == 422
    assert refresh(client, b["refresh_token"]).status_code == 200


def test_logout_all_ends_every_session(client, users):
    users.signup(email="all@example.com")
    phone, laptop = users.login("all@example.com"), users.login("all@example.com")
    out = client.post("/api/v1/auth/logout-all", headers=bearer(phone["access_token"]))
    assert out.status_code == 204
    for tokens in (phone, laptop):
        assert client.get("/api/v1/auth/me", headers=bearer(tokens["access_token"])).status_code == 401
        assert refresh(client, tokens["refresh_token"]).status_code == 401
    fresh = users.login("all@example.com")
    assert client.get("/api/v1/auth/me", headers=bearer(fresh["access_token"])).status_code == 200


def test_password_change_ends_other_sessions(client, users):
    users.signup(email="pw@example.com")
    old = users.login("pw@example.com")
    wrong = client.post("/api/v1/auth/password", headers=bearer(old["access_token"]),
                        json={"current_password": "not it at all", "new_password": "brand new password"})
    assert wrong.status_code == 401
    changed = client.post("/api/v1/auth/password", headers=bearer(old["access_token"]),
                          json={"current_password": PASSWORD, "new_password": "brand new password"})
    assert changed.status_code == 204
    assert refresh(client, old["refresh_token"]).status_code == 401
    assert client.get("/api/v1/auth/me", headers=bearer(old["access_token"])).status_code == 401
    assert users.login("pw@example.com", "brand new password")
