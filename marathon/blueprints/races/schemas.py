"""The race spec an organiser writes, and the race, stats and capacity bodies the API answers with."""
import re

import marshmallow as ma
from marshmallow import validate

from marathon.blueprints.races.models import COURSE_CODES, SALE_STATES

# a slug of only digits would be mistaken for an id wherever `{race}` accepts either
SLUG = re.compile(r"^(?![0-9]+$)[a-z0-9]+(?:-[a-z0-9]+)*$")
# automatic bib blocks are multiples of this many numbers
BIB_BLOCK = 10000
# a block leaves room for places sold again after cancellations (bibs are never reused): 150 % of the capacity
BIB_HEADROOM_PERCENT = 150
SALE_MODES = ("first_come", "ballot")
# how long a ballot winner has to pay, unless the spec says
DEFAULT_OFFER_HOURS = 48


class Code(ma.fields.String):
    """A short code; YAML writes `code: 4` as a number, so whole numbers are taken as their digits."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        return super()._deserialize(value, attr, data, **kwargs)


class PaceGroupSpecSchema(ma.Schema):
    code = Code(required=True, validate=validate.Length(min=1, max=20))
    label = ma.fields.String(required=True, validate=validate.Length(min=1, max=100))
    min_pace_s = ma.fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=3600))
    max_pace_s = ma.fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=3600))
    corral = Code(required=True, validate=validate.Length(min=1, max=20))
    capacity = ma.fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=1_000_000))

    @ma.validates_schema(skip_on_field_errors=True)
    def _band(self, data, **_kwargs):
        if data["min_pace_s"] > data["max_pace_s"]:
            raise ma.ValidationError(
                f"must not be above max_pace_s ({data['min_pace_s']} > {data['max_pace_s']})", "min_pace_s")


class CourseSpecSchema(ma.Schema):
    code = ma.fields.String(required=True, validate=validate.OneOf(COURSE_CODES))
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=100))
    distance_km = ma.fields.Float(required=True, validate=validate.Range(min=0, min_inclusive=False, max=500))
    price = ma.fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=10_000_000))
    bib_start = ma.fields.Integer(strict=True, validate=validate.Range(min=1, max=9_000_000))
    pace_groups = ma.fields.List(ma.fields.Nested(PaceGroupSpecSchema), required=True,
                                 validate=validate.Length(min=1, max=50))

    @ma.validates_schema(skip_on_field_errors=True)
    def _distinct_bands(self, data, **_kwargs):
        errors = {}
        seen = {}
        for index, group in enumerate(data["pace_groups"]):
            if group["code"] in seen:
                errors[index] = {"code": [f"pace group {group['code']!r} appears twice in this course"]}
            seen.setdefault(group["code"], index)
        by_pace = sorted(enumerate(data["pace_groups"]), key=lambda pair: pair[1]["min_pace_s"])
        for (_, slower_than), (index, group) in zip(by_pace, by_pace[1:]):
            if group["min_pace_s"] <= slower_than["max_pace_s"]:
                errors.setdefault(index, {}).setdefault("min_pace_s", []).append(
                    f"pace band {group['code']} ({group['min_pace_s']}-{group['max_pace_s']} s/km) overlaps "
                    f"{slower_than['code']} ({slower_than['min_pace_s']}-{slower_than['max_pace_s']} s/km)")
        if errors:
            raise ma.ValidationError({"pace_groups": errors})


class RaceSpecSchema(ma.Schema):
    """A race as an organiser writes it (JSON or YAML); unknown keys are refused."""

    slug = ma.fields.String(required=True, validate=[
        validate.Length(min=1, max=80),
        validate.Regexp(SLUG, error="lower-case letters, digits and single hyphens, not only digits"),
    ])
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    date = ma.fields.Date(required=True)
    sale_opens_at = ma.fields.AwareDateTime(required=True)
    sale_closes_at = ma.fields.AwareDateTime(required=True)
    lobby_minutes = ma.fields.Integer(strict=True, load_default=30, validate=validate.Range(min=0, max=24 * 60))
    hold_seconds = ma.fields.Integer(strict=True, load_default=600, validate=validate.Range(min=10, max=24 * 3600))
    pow_difficulty = ma.fields.Integer(strict=True, load_default=50000, validate=validate.Range(min=0, max=10_000_000))
    refund_until = ma.fields.AwareDateTime(required=True)
    transfer_until = ma.fields.AwareDateTime()
    sale_mode = ma.fields.String(load_default="first_come", validate=validate.OneOf(SALE_MODES))
    ballot_opens_at = ma.fields.AwareDateTime()
    ballot_closes_at = ma.fields.AwareDateTime()
    offer_hours = ma.fields.Integer(strict=True, validate=validate.Range(min=1, max=30 * 24))
    courses = ma.fields.List(ma.fields.Nested(CourseSpecSchema), required=True,
                             validate=validate.Length(min=1, max=len(COURSE_CODES)))

    @ma.validates_schema(skip_on_field_errors=True)
    def _calendar(self, data, **_kwargs):
        opens, closes = data["sale_opens_at"], data["sale_closes_at"]
        if closes <= opens:
            raise ma.ValidationError(f"must be after sale_opens_at ({opens.isoformat()})", "sale_closes_at")
        # the race day is read in the organiser's own offset, as written for the opening
        if data["date"] < opens.date():
            raise ma.ValidationError(f"the race cannot be run before its sale opens ({opens.date()})", "date")

    @ma.validates_schema(skip_on_field_errors=True)
    def _ballot(self, data, **_kwargs):
        keys = ("ballot_opens_at", "ballot_closes_at", "offer_hours")
        if data["sale_mode"] != "ballot":
            errors = {key: ["only for sale_mode ballot"] for key in keys if key in data}
            if errors:
                raise ma.ValidationError(errors)
            return
        errors = {key: ["required when sale_mode is ballot"] for key in keys[:2] if key not in data}
        if errors:
            raise ma.ValidationError(errors)
        opens, closes = data["ballot_opens_at"], data["ballot_closes_at"]
        if closes <= opens:
            raise ma.ValidationError(f"must be after ballot_opens_at ({opens.isoformat()})", "ballot_closes_at")
        if closes >= data["sale_closes_at"]:
            raise ma.ValidationError(
                f"must be before sale_closes_at ({data['sale_closes_at'].isoformat()}): offers are paid in the sale",
                "ballot_closes_at")

    @ma.validates_schema(skip_on_field_errors=True)
    def _courses(self, data, **_kwargs):
        errors = {}
        seen = set()
        for index, course in enumerate(data["courses"]):
            if course["code"] in seen:
                errors[index] = {"code": [f"course {course['code']} appears twice"]}
            seen.add(course["code"])
        if errors:
            raise ma.ValidationError({"courses": errors})
        try:
            assign_bib_blocks(data["courses"])
        except BibBlockOverlap as overlap:
            raise ma.ValidationError({"courses": {overlap.index: {"bib_start": [str(overlap)]}}}) from None

    @ma.post_load
    def _defaults(self, data, **_kwargs):
        data.setdefault("transfer_until", data["refund_until"])
        if data["sale_mode"] == "ballot":
            data.setdefault("offer_hours", DEFAULT_OFFER_HOURS)
        data["courses"] = assign_bib_blocks(data["courses"])
        return data


class BibBlockOverlap(ValueError):
    def __init__(self, message, index):
        super().__init__(message)
        self.index = index


def block_size(capacity):
    """Numbers a course's block holds: its capacity with headroom, in whole multiples of BIB_BLOCK."""
    wanted = -(-capacity * BIB_HEADROOM_PERCENT // 100)
    return max(BIB_BLOCK, -(-wanted // BIB_BLOCK) * BIB_BLOCK)


def assign_bib_blocks(courses):
    """Give each course bib_start and bib_end (exclusive): a given bib_start keeps its place, the others follow the
    highest block so far, each starting at a multiple of BIB_BLOCK plus one. Raises BibBlockOverlap."""
    placed = []
    for index, course in enumerate(courses):
        if course.get("bib_start"):
            size = block_size(sum(group["capacity"] for group in course["pace_groups"]))
            placed.append((course["bib_start"], course["bib_start"] + size, index))
    placed.sort()
    for (start, end, index), (next_start, _next_end, next_index) in zip(placed, placed[1:]):
        if next_start < end:
            first, second = sorted((index, next_index))
            raise BibBlockOverlap(
                f"the bib block of {courses[second]['code']} overlaps that of {courses[first]['code']} "
                f"({start}-{end - 1})", second)
    blocks = {index: (start, end) for start, end, index in placed}
    top = max((end for _start, end, _index in placed), default=1)
    for index, course in enumerate(courses):
        if index not in blocks:
            start = -(-(top - 1) // BIB_BLOCK) * BIB_BLOCK + 1
            end = start + block_size(sum(group["capacity"] for group in course["pace_groups"]))
            blocks[index] = (start, end)
            top = end
    return [dict(course, bib_start=blocks[index][0], bib_end=blocks[index][1]) for index, course in enumerate(courses)]


def describe_errors(messages, path=""):
    """Flatten marshmallow's nested messages into 'courses.0.pace_groups.1.min_pace_s: ...' lines."""
    if isinstance(messages, dict):
        lines = []
        for key, value in messages.items():
            lines += describe_errors(value, f"{path}.{key}" if path else str(key))
        return lines
    if isinstance(messages, list) and all(isinstance(item, str) for item in messages):
        return [f"{path or 'spec'}: {' '.join(messages)}"]
    return [f"{path or 'spec'}: {messages}"]


class ShuffleSchema(ma.Schema):
    commitment = ma.fields.String()
    seed = ma.fields.String()


class BallotSchema(ma.Schema):
    opens_at = ma.fields.DateTime()
    closes_at = ma.fields.DateTime()
    offer_hours = ma.fields.Integer()
    commitment = ma.fields.String(metadata={"description": "SHA-256 (hex) of the draw's seed"})
    seed = ma.fields.String(metadata={"description": "once drawn"})
    drawn_at = ma.fields.DateTime()


class PaceGroupSchema(ma.Schema):
    code = ma.fields.String()
    label = ma.fields.String()
    min_pace_s = ma.fields.Integer()
    max_pace_s = ma.fields.Integer()
    corral = ma.fields.String()
    capacity = ma.fields.Integer()
    remaining = ma.fields.Integer()
    waiting = ma.fields.Integer()
    waitlist = ma.fields.Integer()
    sold_out = ma.fields.Boolean()


class CourseSchema(ma.Schema):
    code = ma.fields.String()
    name = ma.fields.String()
    distance_km = ma.fields.Float()
    price = ma.fields.Integer()
    currency = ma.fields.String()
    pace_groups = ma.fields.List(ma.fields.Nested(PaceGroupSchema))


class RaceSummarySchema(ma.Schema):
    id = ma.fields.Integer()
    slug = ma.fields.String()
    name = ma.fields.String()
    date = ma.fields.Date()
    sale_opens_at = ma.fields.DateTime()
    sale_closes_at = ma.fields.DateTime()
    sale_state = ma.fields.String(metadata={"enum": list(SALE_STATES)})


class RaceSchema(RaceSummarySchema):
    lobby_opens_at = ma.fields.DateTime()
    hold_seconds = ma.fields.Integer()
    pow_difficulty = ma.fields.Integer()
    refund_until = ma.fields.DateTime()
    transfer_until = ma.fields.DateTime()
    courses = ma.fields.List(ma.fields.Nested(CourseSchema))
    shuffle = ma.fields.Nested(ShuffleSchema, metadata={"description": "once the lobby opens; seed once the sale opens"})
    sale_mode = ma.fields.String(metadata={"enum": list(SALE_MODES)})
    commitment = ma.fields.String(metadata={"description": "ballot mode: SHA-256 (hex) of the draw's seed"})
    ballot = ma.fields.Nested(BallotSchema, metadata={"description": "ballot mode only"})


class TotalsSchema(ma.Schema):
    capacity = ma.fields.Integer()
    confirmed = ma.fields.Integer()
    held = ma.fields.Integer()
    remaining = ma.fields.Integer()
    waiting = ma.fields.Integer()
    admitted_total = ma.fields.Integer()


class BucketFiguresSchema(TotalsSchema):
    entries = ma.fields.Integer(metadata={"description": "ballot entries (not withdrawn)"})
    winners = ma.fields.Integer(metadata={"description": "drawn within capacity"})
    offers_open = ma.fields.Integer(metadata={"description": "ballot and waitlist offers not yet paid or run out"})
    paid = ma.fields.Integer(metadata={"description": "ballot and waitlist offers paid"})
    expired = ma.fields.Integer(metadata={"description": "ballot and waitlist offers run out or given back"})
    waitlist = ma.fields.Integer(metadata={"description": "runners waiting on the waitlist"})
    line = ma.fields.String()
    course = ma.fields.String()
    pace_group = ma.fields.String()
    corral = ma.fields.String()


class StatsSchema(ma.Schema):
    race = ma.fields.String()
    sale_state = ma.fields.String()
    buckets = ma.fields.List(ma.fields.Nested(BucketFiguresSchema))
    totals = ma.fields.Nested(TotalsSchema)


class CapacitySchema(ma.Schema):
    capacity = ma.fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=1_000_000))
