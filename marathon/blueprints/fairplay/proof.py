"""Proof of work at the join: ALTCHA challenges bound to the runner and the race, good for one join.

The challenge's salt carries its binding as ALTCHA salt parameters (`race`, `user`, `t` = issued at, ms, and
`expires`), so the HMAC signature covers them and the join needs no Redis read to check them. A spent challenge is
remembered inside the JOIN script itself (SET with a TTL, refused if already there), so checking the proof costs the
join no extra round trip; with a race's `pow_difficulty` at 0 nothing here runs at all.

Spike rule: every challenge asked for is counted per race and second (one pipelined round trip on the challenge
endpoint, never on the join). A runner must ask for a challenge before each join, so this is the line's arrival rate
one step ahead of the joins. When the previous second saw more than POW_SPIKE_PER_S challenges, the difficulty
(ALTCHA's maxnumber) is doubled; above four times that, quadrupled. It falls back as soon as the rate does.
"""
import base64
import binascii
import json
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qs

import altcha
from flask import current_app

from marathon.blueprints.lines.keys import RaceKeys, text
from marathon.config import derived_key
from marathon.core.clock import now, to_ms
from marathon.core.errors import DomainError
from marathon.core.security import REVOKED_PREFIX
from marathon.extensions import redis_store

ALGORITHM = "SHA-256"
MAX_FACTOR = 4


class BadProof(DomainError):
    status = 400
    reason = "bad_pow"


@dataclass(frozen=True)
class Proof:
    """A verified proof: how long the runner took (challenge issued -> join) and the key that marks it spent."""

    solve_ms: int
    spent_key: str
    ttl_ms: int


def hmac_key():
    config = current_app.config
    return config.get("ALTCHA_HMAC_KEY") or derived_key(config["SECRET_KEY"], "altcha")


def spike_factor(asked_last_second):
    """How much the race's difficulty is raised for this many challenges asked in the previous second."""
    threshold = current_app.config["POW_SPIKE_PER_S"]
    if asked_last_second > MAX_FACTOR * threshold:
        return MAX_FACTOR
    if asked_last_second > threshold:
        return 2
    return 1


def issue_challenge(race_id, user_id, base_difficulty, jti):
    """An ALTCHA challenge for this runner and race, as the altcha package creates it, plus when it expires.
    With proof of work off for the race, says so (required: false) and touches no Redis.
    Raises DomainError 401 token_revoked."""
    if base_difficulty <= 0:
        return {"required": False, "difficulty": 0}
    moment = now()
    keys = RaceKeys(race_id)
    second = int(moment.timestamp())
    client = redis_store.client
    with client.pipeline(transaction=False) as pipe:
        pipe.exists(REVOKED_PREFIX + jti)
        pipe.incr(keys.pow_asked(second))
        pipe.expire(keys.pow_asked(second), 5)
        pipe.get(keys.pow_asked(second - 1))
        revoked, _asked, _, last_second = pipe.execute()
    if revoked:
        raise DomainError("the token has been revoked", "token_revoked", status=401)
    difficulty = base_difficulty * spike_factor(int(text(last_second) or 0))
    expires = moment + timedelta(seconds=current_app.config["POW_CHALLENGE_SECONDS"])
    challenge = altcha.create_challenge_v1(
        altcha.ChallengeOptionsV1(
            algorithm=ALGORITHM, max_number=difficulty, hmac_key=hmac_key(), expires=expires,
            params={"race": str(race_id), "user": str(user_id), "t": str(to_ms(moment))},
        )
    )
    body = challenge.to_dict()
    # the ALTCHA widget reads `maxnumber`; the Python package writes `maxNumber`: give both
    body["maxnumber"] = body["maxNumber"]
    body.update(required=True, difficulty=difficulty, expires_at=expires.isoformat())
    return body


def verify(race_id, user_id, encoded):
    """Check a join's proof of work (base64 ALTCHA payload); returns a Proof.
    Raises BadProof when it is missing, forged, another runner's or race's, or expired (a replay is refused by the
    JOIN script, which spends the proof)."""
    if not encoded:
        raise BadProof("this race needs proof of work: solve GET /races/{race}/pow and send it as `pow`")
    try:
        payload = json.loads(base64.b64decode(encoded, validate=True).decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadProof("pow is not a base64 ALTCHA payload") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("salt"), str):
        raise BadProof("pow is not an ALTCHA payload")
    try:
        verified, _error = altcha.verify_solution_v1(payload, hmac_key(), check_expires=False)
    except (TypeError, ValueError, AttributeError):
        verified = False
    if not verified:
        raise BadProof("the proof of work does not verify")
    params = {name: values[-1] for name, values in parse_qs(payload["salt"].split("?", 1)[-1]).items()}
    if params.get("race") != str(race_id):
        raise BadProof("the proof of work was issued for another race")
    if params.get("user") != str(user_id):
        raise BadProof("the proof of work was issued to another runner")
    moment_ms = to_ms(now())
    try:
        expires_ms, issued_ms = int(params["expires"]) * 1000, int(params["t"])
    except (KeyError, ValueError):
        raise BadProof("the proof of work carries no expiry") from None
    if expires_ms < moment_ms:
        raise BadProof("the proof of work has expired; ask for a new challenge")
    return Proof(
        solve_ms=max(0, moment_ms - issued_ms),
        spent_key=RaceKeys(race_id).pow_used(payload["challenge"]),
        # remembered as long as it could still be used, and a little more
        ttl_ms=max(1000, expires_ms - moment_ms + 60_000),
    )


def solve(challenge):
    """Solve a challenge the way the ALTCHA widget does, with the package's solver; returns the base64 payload.
    For tests and load generators."""
    found = altcha.solve_challenge_v1(
        challenge["challenge"], challenge["salt"], challenge["algorithm"], int(challenge["maxnumber"])
    )
    if found is None:
        return None
    return altcha.PayloadV1(
        challenge["algorithm"], challenge["challenge"], found.number, challenge["salt"], challenge["signature"]
    ).to_base64()
