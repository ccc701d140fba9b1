"""Proof of work at the join: every way a proof is refused (400 bad_pow), the good one, and the spike rule."""
import base64
import json

import altcha

from sqlalchemy import select

from marathon.admission.journal import flush_joins
from marathon.blueprints.fairplay import proof
from marathon.blueprints.lines.models import LineEntry
from marathon.extensions import db
from tests.factories import make_race
from tests.support import api

DIFFICULTY = 1000


def challenge(client, headers, race="test-race"):
    response = client.get(f"/api/v1/races/{race}/pow", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def join(client, headers, pow_payload=None, race="test-race"):
    """A join carrying this proof (positional, as every test here gives one)."""
    return api.join(client, headers, race=race, pow_payload=pow_payload)


def refused(response):
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["reason"] == "bad_pow"
    return response.get_json()["message"]


def test_the_challenge_is_altchas_and_bound_to_runner_and_race(app, client, users, clock):
    with app.app_context():
        make_race(clock, opens_in_s=-1, pow_difficulty=DIFFICULTY)
    user = users.signup()
    found = challenge(client, users.headers(user["email"]))
    parameters = found["parameters"]
    assert found["required"] is True and parameters["algorithm"] == "PBKDF2/SHA-256" and found["signature"]
    assert parameters["cost"] == app.config["POW_ITERATIONS"] and parameters["keySignature"]
    assert parameters["data"]["user"] == str(user["id"]) and found["difficulty"] == DIFFICULTY
    # the counter the solver must reach lies in the upper half of the range
    assert found["max_counter"] == DIFFICULTY // app.config["POW_DIFFICULTY_PER_ATTEMPT"]
    solution = altcha.solve_challenge(altcha.Challenge.from_dict(found))
    assert found["max_counter"] // 2 <= solution.counter <= found["max_counter"]
    assert {"race", "user", "t", "expires"} <= set(parameters["data"]) and "expires_at" in found


def test_the_altcha_package_verifies_our_challenges(app, client, users, clock):
    """What the join accepts is what the altcha package itself verifies (the widget's payload is the same)."""
    with app.app_context():
        make_race(clock, opens_in_s=-1, pow_difficulty=DIFFICULTY)
        payload = proof.solve(challenge(client, users.headers()))
        assert altcha.verify_solution(payload, proof.hmac_key(), hmac_key_secret=proof.key_signing_key()).verified
        # and without the derived key's signature, by deriving the key again
        assert altcha.verify_solution(payload, proof.hmac_key()).verified
    assert client.get("/api/v1/races/test-race/pow").status_code == 401


def test_a_solved_proof_joins_and_its_solve_time_is_journaled(app, client, users, clock):
    with app.app_context():
        race = make_race(clock, opens_in_s=-1, pow_difficulty=DIFFICULTY)
    headers = users.headers()
    payload = proof.solve(challenge(client, headers))
    clock.advance(1.5)
    joined = join(client, headers, payload)
    assert joined.status_code == 202, joined.get_json()
    with app.app_context():
        flush_joins(race.id)
        entry = db.session.execute(select(LineEntry)).scalar_one()
        assert entry.pow_ms == 1500 and entry.ip == "127.0.0.1"


def test_missing_and_malformed_proofs(app, client, users, clock):
    with app.app_context():
        make_race(clock, opens_in_s=-1, pow_difficulty=DIFFICULTY)
    headers = users.headers()
    assert "needs proof of work" in refused(join(client, headers))
    refused(join(client, headers, "not base64 at all!"))
    refused(join(client, headers, base64.b64encode(b"[1, 2]").decode()))
    refused(join(client, headers, base64.b64encode(b'{"salt": "x"}').decode()))
    refused(join(client, headers, base64.b64encode(b'{"challenge": {"parameters": 1}, "solution": {}}').decode()))


def test_forged_proofs(app, client, users, clock):
    with app.app_context():
        make_race(clock, opens_in_s=-1, pow_difficulty=DIFFICULTY)
    headers = users.headers()
    found = challenge(client, headers)
    good = json.loads(base64.b64decode(proof.solve(found)))

    def encoded(solution=None, parameters=None):
        changed = {"challenge": {"parameters": good["challenge"]["parameters"] | (parameters or {}),
                                 "signature": good["challenge"]["signature"]},
                   "solution": good["solution"] | (solution or {})}
        return base64.b64encode(json.dumps(changed).encode()).decode()

    wrong_key = ("0" if good["solution"]["derivedKey"][0] != "0" else "1") + good["solution"]["derivedKey"][1:]
    assert "does not verify" in refused(join(client, headers, encoded(solution={"derivedKey": wrong_key})))
    # another runner's id in the signed data breaks the signature
    other = good["challenge"]["parameters"]["data"] | {"user": "9" + good["challenge"]["parameters"]["data"]["user"]}
    assert "does not verify" in refused(join(client, headers, encoded(parameters={"data": other})))
    # cheaper work than was asked for breaks it too
    assert "does not verify" in refused(join(client, headers, encoded(parameters={"cost": 1})))
    # without the derived key's signature the server would have to derive the key itself: refused outright
    stripped = dict(good["challenge"]["parameters"])
    del stripped["keySignature"]
    bare = {"challenge": {"parameters": stripped, "signature": good["challenge"]["signature"]},
            "solution": good["solution"]}
    refused(join(client, headers, base64.b64encode(json.dumps(bare).encode()).decode()))
    # a challenge for this runner and race, but signed with some other key
    data = good["challenge"]["parameters"]["data"]
    with app.app_context():
        app.config["ALTCHA_HMAC_KEY"] = "someone else's key"
        forged = proof.issue_challenge(data["race"], data["user"], DIFFICULTY, "jti")
        app.config["ALTCHA_HMAC_KEY"] = None
    assert "does not verify" in refused(join(client, headers, proof.solve(forged)))
    assert join(client, headers, encoded()).status_code == 202


def test_another_runners_or_another_races_proof(app, client, users, clock):
    with app.app_context():
        make_race(clock, opens_in_s=-1, pow_difficulty=DIFFICULTY)
        make_race(clock, slug="other-race", opens_in_s=-1, pow_difficulty=DIFFICULTY)
    mine, theirs = users.headers(), users.headers()
    their_proof = proof.solve(challenge(client, theirs))
    assert "another runner" in refused(join(client, mine, their_proof))
    other_race_proof = proof.solve(challenge(client, mine, race="other-race"))
    assert "another race" in refused(join(client, mine, other_race_proof))
    assert join(client, theirs, their_proof).status_code == 202


def test_an_expired_proof(app, client, users, clock):
    with app.app_context():
        make_race(clock, opens_in_s=-1, pow_difficulty=DIFFICULTY)
    headers = users.headers()
    payload = proof.solve(challenge(client, headers))
    clock.advance(app.config["POW_CHALLENGE_SECONDS"] + 1)
    assert "expired" in refused(join(client, headers, payload))


def test_a_proof_is_good_for_one_join(app, client, users, clock):
    with app.app_context():
        make_race(clock, opens_in_s=-1, pow_difficulty=DIFFICULTY)
    headers = users.headers()
    payload = proof.solve(challenge(client, headers))
    assert join(client, headers, payload).status_code == 202
    assert client.delete("/api/v1/races/test-race/queue/me", headers=headers).status_code == 204
    assert "already been used" in refused(join(client, headers, payload))
    assert join(client, headers, proof.solve(challenge(client, headers))).status_code == 202


def test_no_proof_needed_when_the_race_turns_it_off(app, client, users, clock):
    with app.app_context():
        make_race(clock, opens_in_s=-1, pow_difficulty=0)
    headers = users.headers()
    assert challenge(client, headers) == {"required": False, "difficulty": 0}
    assert join(client, headers).status_code == 202


def test_difficulty_rises_while_arrivals_spike(app, client, users, clock):
    app.config["POW_SPIKE_PER_S"] = 3
    with app.app_context():
        make_race(clock, opens_in_s=-1, pow_difficulty=DIFFICULTY)
    headers = users.headers()
    clock.set(clock.now().replace(microsecond=0))
    calm = [challenge(client, headers)["difficulty"] for _ in range(4)]
    clock.advance(1)
    busy = [challenge(client, headers)["difficulty"] for _ in range(13)]
    clock.advance(1)
    storm = challenge(client, headers)["difficulty"]
    clock.advance(5)
    after = challenge(client, headers)["difficulty"]
    assert calm == [DIFFICULTY] * 4
    assert busy == [2 * DIFFICULTY] * 13
    assert storm == 4 * DIFFICULTY and after == DIFFICULTY
