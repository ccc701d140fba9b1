"""The runner's place in a race, as kept in Redis (the race's `who` hash): one type, one encoder, one decoder.

The Lua scripts (marathon.blueprints.lines.scripts) read and write the same text; this module is their reference and
tests/test_place.py holds the two equal.
"""
from dataclasses import dataclass
from enum import Enum

SEPARATOR = "|"


class Kind(str, Enum):
    """What the runner has in the race; the value is the letter stored in Redis."""

    WAITING = "L"  # in a bucket's line (or its lobby)
    HELD = "H"  # admitted: a hold on a place, until it expires or is paid
    REGISTERED = "R"  # paid: a registration
    ENDED = "X"  # no place any more (expired, skipped, sold out, left, cancelled, voided, transferred)


@dataclass(frozen=True)
class Place:
    """A runner's place: its kind, bucket and arrival, and what that kind carries."""

    kind: Kind
    bucket_id: int
    arrival: int
    hold_id: int | None = None  # HELD
    expires_ms: int | None = None  # HELD
    amount: int | None = None  # HELD
    told_ms: int | None = None  # HELD: when its runner was first told of it (0: not yet; the hold's clock starts then)
    registration_id: int | None = None  # REGISTERED (0 while the worker does not know it yet)
    reason: str | None = None  # ENDED

    @classmethod
    def waiting(cls, bucket_id, arrival):
        return cls(Kind.WAITING, int(bucket_id), int(arrival))

    @classmethod
    def held(cls, bucket_id, arrival, hold_id, expires_ms, amount, told_ms=0):
        return cls(Kind.HELD, int(bucket_id), int(arrival), hold_id=int(hold_id), expires_ms=int(expires_ms),
                   amount=int(amount), told_ms=int(told_ms))

    @classmethod
    def registered(cls, bucket_id, arrival, registration_id):
        return cls(Kind.REGISTERED, int(bucket_id), int(arrival), registration_id=int(registration_id))

    @classmethod
    def ended(cls, bucket_id, arrival, reason):
        return cls(Kind.ENDED, int(bucket_id), int(arrival), reason=str(reason))

    def encode(self):
        """The Redis text: 'L|bucket|arrival', 'H|bucket|arrival|hold|expires_ms|amount|told_ms',
        'R|bucket|arrival|registration', 'X|bucket|arrival|reason'."""
        parts = [self.kind.value, self.bucket_id, self.arrival]
        if self.kind is Kind.HELD:
            parts += [self.hold_id, self.expires_ms, self.amount, self.told_ms or 0]
        elif self.kind is Kind.REGISTERED:
            parts.append(self.registration_id)
        elif self.kind is Kind.ENDED:
            parts.append(self.reason)
        return SEPARATOR.join(map(str, parts))

    @classmethod
    def decode(cls, value):
        """The place a Redis value (str or bytes) holds; raises ValueError on a value of no known kind."""
        if isinstance(value, bytes):
            value = value.decode()
        kind, bucket_id, arrival, *rest = value.split(SEPARATOR)
        kind = Kind(kind)
        if kind is Kind.WAITING:
            return cls.waiting(bucket_id, arrival)
        if kind is Kind.HELD:
            return cls.held(bucket_id, arrival, *rest[:4])
        if kind is Kind.REGISTERED:
            return cls.registered(bucket_id, arrival, rest[0])
        return cls.ended(bucket_id, arrival, SEPARATOR.join(rest))


def kinds(*members):
    """The letters of these kinds, as the TRANSITION script's `allowed` argument takes them (e.g. 'HLX')."""
    return "".join(member.value for member in members)
