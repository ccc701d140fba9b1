"""Request and response bodies of the payment endpoints."""
import marshmallow as ma
from marshmallow import validate

from marathon.blueprints.registrations.services import BLOOD_TYPES


class CreateOrderSchema(ma.Schema):
    hold_id = ma.fields.Integer(required=True, strict=True, validate=validate.Range(min=1))


class OrderSchema(ma.Schema):
    order_id = ma.fields.String()
    amount = ma.fields.Integer()
    currency = ma.fields.String()
    provider = ma.fields.String()
    status = ma.fields.String()
    checkout = ma.fields.Dict(metadata={"description": "what the provider's payment widget needs"})


class ConfirmSchema(ma.Schema):
    payment_key = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    amount = ma.fields.Integer(required=True, strict=True)
    blood_type = ma.fields.String(validate=validate.OneOf(BLOOD_TYPES))
    emergency_contact = ma.fields.String(validate=validate.Length(min=1, max=100))


class RegistrationBriefSchema(ma.Schema):
    id = ma.fields.Integer()
    bib = ma.fields.Integer()
    course = ma.fields.String()
    pace_group = ma.fields.String()
    corral = ma.fields.String()


class ConfirmationSchema(ma.Schema):
    order_id = ma.fields.String()
    status = ma.fields.String()
    registration = ma.fields.Nested(RegistrationBriefSchema)


class RefundSchema(ma.Schema):
    amount = ma.fields.Integer()
    status = ma.fields.String(metadata={"description": "done, pending (being retried) or none (nothing was paid)"})


class CancellationSchema(ma.Schema):
    status = ma.fields.String()
    refund = ma.fields.Nested(RefundSchema)


class WebhookAnswerSchema(ma.Schema):
    status = ma.fields.String(metadata={"description": "processed, ignored or duplicate"})
    outcome = ma.fields.String()
