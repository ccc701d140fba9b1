"""Bodies of the waiting-line endpoints."""
import marshmallow as ma
from marshmallow import validate

from marathon.core.errors import ErrorSchema


# field -> (least, most) length, the same bounds as JoinSchema's
JOIN_LENGTHS = {"course": (1, 10), "pace_group": (1, 20), "pow": (0, 4096)}


class JoinSchema(ma.Schema):
    course = ma.fields.String(required=True, validate=validate.Length(min=1, max=10))
    pace_group = ma.fields.String(required=True, validate=validate.Length(min=1, max=20))
    pow = ma.fields.String(validate=validate.Length(max=4096), metadata={"description": "ALTCHA payload, base64"})

    @staticmethod
    def lean_check(data):
        """Whether a join body is one this schema loads unchanged (marathon.core.parsing.LeanParser's fast path)."""
        return (isinstance(data, dict) and "course" in data and "pace_group" in data and all(
            name in JOIN_LENGTHS and isinstance(value, str)
            and JOIN_LENGTHS[name][0] <= len(value) <= JOIN_LENGTHS[name][1] for name, value in data.items()))


class HoldSchema(ma.Schema):
    id = ma.fields.Integer()
    expires_at = ma.fields.String()
    amount = ma.fields.Integer()


class JoinedSchema(ma.Schema):
    status = ma.fields.String()
    line = ma.fields.String()
    arrival = ma.fields.Integer()
    position = ma.fields.Integer()
    ahead = ma.fields.Integer()
    retry_after_s = ma.fields.Integer()
    lobby = ma.fields.Boolean()


class QueueStatusSchema(ma.Schema):
    status = ma.fields.String(metadata={"description": "waiting, admitted, confirmed, expired, sold_out or left"})
    line = ma.fields.String()
    arrival = ma.fields.Integer()
    position = ma.fields.Integer(allow_none=True)
    ahead = ma.fields.Integer(allow_none=True)
    eta_s = ma.fields.Integer(allow_none=True)
    retry_after_s = ma.fields.Integer()
    hold = ma.fields.Nested(HoldSchema, allow_none=True)
    lobby = ma.fields.Boolean()
    reason = ma.fields.String()
    registration_id = ma.fields.Integer()


class BallotEntrySchema(JoinSchema):
    """Body of a ballot entry: the same as a join's."""


class BallotEnteredSchema(ma.Schema):
    status = ma.fields.String(metadata={"description": "entered"})
    line = ma.fields.String()
    entry_id = ma.fields.Integer()


class BallotStatusSchema(BallotEnteredSchema):
    status = ma.fields.String(metadata={
        "description": "entered, won, reserve, offered, confirmed, expired, withdrawn or lost"})
    rank = ma.fields.Integer(allow_none=True, metadata={"description": "place in the bucket's draw order, from 1"})
    capacity = ma.fields.Integer(metadata={"description": "the bucket's capacity: ranks up to it won"})
    hold = ma.fields.Nested(HoldSchema, allow_none=True)


class DrawBucketSchema(ma.Schema):
    line = ma.fields.String()
    capacity = ma.fields.Integer()
    order = ma.fields.List(ma.fields.Integer(), metadata={"description": "entry ids in draw order"})


class DrawSchema(ma.Schema):
    commitment = ma.fields.String(metadata={"description": "SHA-256 (hex) of the seed, published before the ballot"})
    seed = ma.fields.String()
    entries_digest = ma.fields.String(metadata={
        "description": "SHA-256 (hex) of all drawn entry ids, ascending, as decimals joined by ','"})
    drawn_at = ma.fields.String()
    buckets = ma.fields.List(ma.fields.Nested(DrawBucketSchema))


class NotDrawnSchema(ErrorSchema):
    """404 not_drawn: the error, with the commitment the draw will be checked against (null outside ballot mode)."""

    commitment = ma.fields.String(allow_none=True)


class WaitlistJoinSchema(ma.Schema):
    course = ma.fields.String(required=True, validate=validate.Length(min=1, max=10))
    pace_group = ma.fields.String(required=True, validate=validate.Length(min=1, max=20))


class WaitlistStatusSchema(ma.Schema):
    status = ma.fields.String(metadata={"description": "waiting, offered, confirmed, expired or left"})
    line = ma.fields.String()
    position = ma.fields.Integer(allow_none=True)
    hold = ma.fields.Nested(HoldSchema, allow_none=True)
