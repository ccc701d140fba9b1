"""Proof of work at the join: ALTCHA v2 challenges (PBKDF2/SHA-256) bound to the runner and the race, good for one join.

Why PBKDF2: a key derivation costs a browser (WebCrypto's native `deriveBits`) about what it costs a native solver
(`hashlib.pbkdf2_hmac`), unlike v1's SHA-256 match, where a browser paid ~30 times a bot's price in call overhead.

The challenge is ALTCHA v2's deterministic form: the server picks the counter (uniformly in the upper half of the
race's range, so a person's wait varies by at most 2x and nobody solves it at once by luck), derives the key once,
and publishes half of it as `keyPrefix`; the solver must try counters from 0 up to that one. The server also signs
the derived key (`keySignature`), so checking a join's proof is two HMACs: no key derivation on the join path.

The binding travels in the signed `data` (`race`, `user`, `t` = issued at, ms, and `expires`, s), checked against
our clock (`expiresAt` is left out: the package would check it against the wall clock). A spent challenge is
remembered inside the JOIN script itself (SET with a TTL, refused if already there), so checking the proof costs
the join no extra round trip; with a race's `pow_difficulty` at 0 nothing here runs at all.

Difficulty: `pow_difficulty` keeps its scale (50,000 = a person's second, README "Fair play"): the counter's upper
bound is pow_difficulty / POW_DIFFICULTY_PER_ATTEMPT, each attempt one PBKDF2 of POW_ITERATIONS iterations.

Spike rule: every challenge asked for is counted per race and second (one pipelined round trip on the challenge
endpoint, never on the join). A runner must ask for a challenge before each join, so this is the line's arrival rate
one step ahead of the joins. When the previous second saw more than POW_SPIKE_PER_S challenges, the difficulty
is doubled; above four times that, quadrupled. It falls back as soon as the rate does.
"""
import base64
import binascii
import json
import math
import secrets
from dataclasses import dataclass
from datetime import timedelta

import altcha
from flask import current_app

from marathon.blueprints.lines.keys import RaceKeys, text
from marathon.config import derived_key
from marathon.core.clock import now, to_ms
from marathon.core.errors import DomainError
from marathon.core.security import REVOKED_PREFIX
from marathon.extensions import redis_store

ALGORITHM = "PBKDF2/SHA-256"
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


def key_signing_key():
    """The key that signs a challenge's derived key (ALTCHA's hmac_key_secret): distinct from the challenge's."""
    return derived_key(hmac_key(), "altcha-derived-key")


def spike_factor(asked_last_second):
    """How much the race's difficulty is raised for this many challenges asked in the previous second."""
    threshold = current_app.config["POW_SPIKE_PER_S"]
    if asked_last_second > MAX_FACTOR * threshold:
        return MAX_FACTOR
    if asked_last_second > threshold:
        return 2
    return 1


def max_counter(difficulty, per_attempt):
    """The counter's upper bound for a difficulty: the most key derivations a solve can take."""
    return max(2, math.ceil(difficulty / per_attempt))


def issue_challenge(race_id, user_id, base_difficulty, jti):
    """An ALTCHA v2 challenge for this runner and race, as the altcha package creates it, plus when it expires.
    With proof of work off for the race, says so (required: false) and touches no Redis.
    Raises DomainError 401 token_revoked."""
    if base_difficulty <= 0:
        return {"required": False, "difficulty": 0}
    config = current_app.config
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
    top = max_counter(difficulty, config["POW_DIFFICULTY_PER_ATTEMPT"])
    expires = moment + timedelta(seconds=config["POW_CHALLENGE_SECONDS"])
    challenge = altcha.create_challenge(
        ALGORITHM, config["POW_ITERATIONS"],
        counter=top // 2 + secrets.randbelow(top - top // 2 + 1),
        data={"race": str(race_id), "user": str(user_id), "t": str(to_ms(moment)),
              "expires": str(int(expires.timestamp()))},
        hmac_secret=hmac_key(), hmac_key_secret=key_signing_key(),
    )
    body = challenge.to_dict()
    body.update(required=True, difficulty=difficulty, max_counter=top, expires_at=expires.isoformat())
    return body


def _decode(encoded):
    if not encoded:
        raise BadProof("this race needs proof of work: solve GET /races/{race}/pow and send it as `pow`")
    try:
        payload = json.loads(base64.b64decode(encoded, validate=True).decode())
        parsed = altcha.Payload.from_dict(payload)
    except (binascii.Error, ValueError, UnicodeDecodeError, KeyError, TypeError, AttributeError, RecursionError):
        raise BadProof("pow is not a base64 ALTCHA v2 payload") from None
    if not isinstance(parsed.challenge.parameters.data, dict):
        raise BadProof("pow is not an ALTCHA payload of ours")
    return parsed


def verify(race_id, user_id, encoded):
    """Check a join's proof of work (base64 ALTCHA v2 payload); returns a Proof.
    Raises BadProof when it is missing, forged, another runner's or race's, or expired (a replay is refused by the
    JOIN script, which spends the proof)."""
    parsed = _decode(encoded)
    parameters = parsed.challenge.parameters
    if parameters.algorithm != ALGORITHM or not parameters.key_signature:
        raise BadProof("the proof of work is not of the kind this server issues")
    try:
        result = altcha.verify_solution(parsed, hmac_key(), hmac_key_secret=key_signing_key())
        verified = result.verified
    except (TypeError, ValueError, AttributeError):
        verified = False
    if not verified:
        raise BadProof("the proof of work does not verify")
    data = parameters.data
    if data.get("race") != str(race_id):
        raise BadProof("the proof of work was issued for another race")
    if data.get("user") != str(user_id):
        raise BadProof("the proof of work was issued to another runner")
    moment_ms = to_ms(now())
    try:
        expires_ms, issued_ms = int(data["expires"]) * 1000, int(data["t"])
    except (KeyError, ValueError, TypeError):
        raise BadProof("the proof of work carries no expiry") from None
    if expires_ms < moment_ms:
        raise BadProof("the proof of work has expired; ask for a new challenge")
    return Proof(
        solve_ms=max(0, moment_ms - issued_ms),
        spent_key=RaceKeys(race_id).pow_used(parsed.challenge.signature),
        # remembered as long as it could still be used, and a little more
        ttl_ms=max(1000, expires_ms - moment_ms + 60_000),
    )


def solve(challenge, counter_step=1, counter_start=0):
    """Solve a challenge the way the ALTCHA widget does, with the package's solver; returns the base64 payload.
    For tests and load generators."""
    parsed = altcha.Challenge.from_dict({"parameters": challenge["parameters"], "signature": challenge["signature"]})
    found = altcha.solve_challenge(parsed, counter_start=counter_start, counter_step=counter_step)
    if found is None:
        return None
    return altcha.Payload(parsed, found).to_base64()
