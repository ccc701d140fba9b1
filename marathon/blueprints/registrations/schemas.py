"""Bodies of the registration endpoints."""
import marshmallow as ma
from marshmallow import validate

from marathon.blueprints.registrations.services import BLOOD_TYPES


class RegistrationSchema(ma.Schema):
    id = ma.fields.Integer()
    race = ma.fields.String(metadata={"description": "the race's slug"})
    race_id = ma.fields.Integer()
    course = ma.fields.String()
    pace_group = ma.fields.String()
    corral = ma.fields.String()
    bib = ma.fields.Integer()
    status = ma.fields.String(metadata={"description": "confirmed, cancelled or voided"})
    runner_name = ma.fields.String()
    blood_type = ma.fields.String(allow_none=True)
    emergency_contact = ma.fields.String(allow_none=True)
    amount_paid = ma.fields.Integer()


class TransferSchema(ma.Schema):
    to_email = ma.fields.Email(required=True, validate=validate.Length(max=254))
    blood_type = ma.fields.String(required=True, validate=validate.OneOf(BLOOD_TYPES))
    emergency_contact = ma.fields.String(required=True, validate=validate.Length(min=1, max=100))


class EmergencyInfoSchema(ma.Schema):
    blood_type = ma.fields.String(required=True, validate=validate.OneOf(BLOOD_TYPES))
    emergency_contact = ma.fields.String(required=True, validate=validate.Length(min=1, max=100))
