"""The hot paths' token check: a token's signature is verified once per process, its expiry at every use."""
from datetime import timedelta

from flask_jwt_extended import create_access_token, create_refresh_token


def test_a_cached_token_still_expires_and_a_refresh_token_is_refused(app, client, users, clock):
    from tests.factories import make_race

    with app.app_context():
        make_race(clock, opens_in_s=-1)
        short = create_access_token(identity="1", expires_delta=timedelta(seconds=2))
        refresh = create_refresh_token(identity="1")
    headers = {"Authorization": f"Bearer {short}"}
    first = client.get("/api/v1/races/test-race/queue/me", headers=headers)
    assert first.status_code == 404 and first.get_json()["reason"] == "not_in_line"
    with app.app_context():
        app.extensions["verified_access_tokens"][short]["exp"] -= 3600  # as if its time had passed
    expired = client.get("/api/v1/races/test-race/queue/me", headers=headers)
    assert expired.status_code == 401 and expired.get_json()["reason"] == "token_expired"
    wrong = client.get("/api/v1/races/test-race/queue/me", headers={"Authorization": f"Bearer {refresh}"})
    assert wrong.status_code == 401 and wrong.get_json()["reason"] == "wrong_token_type"
    forged = client.get("/api/v1/races/test-race/queue/me", headers={"Authorization": f"Bearer {short[:-2]}xx"})
    assert forged.status_code == 401 and forged.get_json()["reason"] == "token_invalid"
