"""The waiting line's rules as the routes and the status fast path call them: join, the runner's place, leave."""
from marathon.blueprints.fairplay import proof as proof_of_work
from marathon.blueprints.lines import engine
from marathon.blueprints.lines.place import Kind
from marathon.blueprints.races import catalogue
from marathon.blueprints.races.models import line_of
from marathon.blueprints.registrations import services as registrations
from marathon.core.errors import DomainError, NotFound
from marathon.core.security import ensure_not_revoked


def join(race, course, pace_group, claims, ip="", pow_payload=None):
    """Put the caller at the back of a course and pace group's line (checking the proof of work the race asks for);
    returns the joined view. Raises NotFound (race_not_found), DomainError (unknown_bucket, bad_pow, the JOIN
    script's refusals)."""
    entry = catalogue.lookup(race)
    bucket_id = catalogue.bucket_id(entry, course, pace_group)
    if entry.sale_mode == "ballot":
        raise DomainError("this race fills its places by ballot: enter the ballot instead", "sale_not_open",
                          status=403)
    proof = proof_of_work.verify(entry.race_id, claims["sub"], pow_payload) if entry.pow_difficulty else None
    joined = engine.join(entry.race_id, bucket_id, claims["sub"], claims["jti"], ip=ip, proof=proof)
    return dict(joined, line=line_of(course, pace_group))


def my_place(race, claims, **options):
    """The caller's place in the race's lines (one Redis round trip; options go to engine.status: ip counts the address
    against its limit, arrived_ms, poll=False for a stream's refresh); raises NotFound (race_not_found, not_in_line),
    DomainError 429 (too_soon, rate_limited)."""
    entry = catalogue.lookup(race)
    view = engine.status(entry.race_id, claims["sub"], claims["jti"], **options)
    if view is None:
        raise NotFound("you are not in a line of this race", "not_in_line")
    return view


def leave(race, claims):
    """Take the caller out of the race's line, or give back the place they hold.
    Raises NotFound (race_not_found, not_in_line), DomainError 409 busy (being admitted right now)."""
    entry = catalogue.lookup(race)
    ensure_not_revoked(claims)
    outcome, _current = engine.leave(entry.race_id, claims["sub"])
    if outcome == Kind.HELD:
        registrations.release_hold(entry.race_id, int(claims["sub"]))
    elif outcome == engine.BUSY:
        raise DomainError("you are being admitted right now; try again in a moment", "busy", status=409,
                          headers={"Retry-After": 1})
    elif outcome != engine.LEFT:
        raise NotFound("you are not waiting in a line of this race", "not_in_line")
