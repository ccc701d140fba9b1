"""The User: one account per email and one per person."""
from marathon.core.clock import utcnow
from marathon.core.types import UTCDateTime
from marathon.extensions import db


class User(db.Model):
    __tablename__ = "users"

    id = db.Column(db.Integer, primary_key=True)
    email = db.Column(db.String(254), nullable=False, unique=True)
    password_hash = db.Column(db.String(255), nullable=False)
    name = db.Column(db.String(100), nullable=False)
    birth_date = db.Column(db.Date, nullable=False)
    phone = db.Column(db.String(20), nullable=False)
    # keyed hash of the normalised name + birth date + phone: one account per person
    identity_hash = db.Column(db.String(64), nullable=False, unique=True)
    roles = db.Column(db.String(100), nullable=False, default="runner")
    # carried by every token as the `tv` claim: bumping it (password or role change, log out everywhere) ends
    # every session the account had
    token_version = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    signup_ip = db.Column(db.String(45))
    created_at = db.Column(UTCDateTime(), nullable=False, default=utcnow)

    @property
    def role_list(self):
        return [role for role in self.roles.split(",") if role]

    def has_role(self, role):
        return role in self.role_list
