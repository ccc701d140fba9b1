"""Request and response bodies of the auth endpoints."""
import re

import marshmallow as ma
from marshmallow import validate

from marathon.blueprints.auth.identity import normalise_name, parse_phone

PHONE = re.compile(r"^\+?[0-9][0-9 \-]{6,18}[0-9]$")


class SignupSchema(ma.Schema):
    email = ma.fields.Email(required=True, validate=validate.Length(max=254))
    password = ma.fields.String(required=True, load_only=True, validate=validate.Length(min=10, max=256))
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=100))
    birth_date = ma.fields.Date(required=True)
    phone = ma.fields.String(
        required=True, validate=validate.Regexp(PHONE, error="not a phone number, e.g. 010-1234-5678")
    )

    @ma.validates("name")
    def _name_not_blank(self, value, **_kwargs):
        if not normalise_name(value):
            raise ma.ValidationError("must not be blank")

    @ma.validates("phone")
    def _phone_is_a_number(self, value, **_kwargs):
        try:
            parse_phone(value)
        except ValueError:
            raise ma.ValidationError("not a phone number, e.g. 010-1234-5678") from None


class UserSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    email = ma.fields.String(dump_only=True)
    name = ma.fields.String(dump_only=True)


class MeSchema(UserSchema):
    roles = ma.fields.List(ma.fields.String(), dump_only=True, attribute="role_list")


class LoginSchema(ma.Schema):
    email = ma.fields.String(required=True, validate=validate.Length(min=1, max=254))
    password = ma.fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=256))


class TokensSchema(ma.Schema):
    access_token = ma.fields.String()
    refresh_token = ma.fields.String()
    token_type = ma.fields.String()
    expires_in = ma.fields.Integer()


class AccessTokenSchema(ma.Schema):
    access_token = ma.fields.String()
    expires_in = ma.fields.Integer()
    refresh_token = ma.fields.String(metadata={
        "description": "the next refresh token: the one sent is now spent, and sending it again ends the session"})


class LogoutSchema(ma.Schema):
    refresh_token = ma.fields.String(validate=validate.Length(max=4096))


class PasswordChangeSchema(ma.Schema):
    current_password = ma.fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=256))
    new_password = ma.fields.String(required=True, load_only=True, validate=validate.Length(min=10, max=256))
