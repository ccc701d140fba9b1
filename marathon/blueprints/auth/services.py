"""Account rules: one account per email and per person, Argon2 passwords, admins."""
import time
from datetime import date

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from marathon.blueprints.auth import identity
from marathon.blueprints.auth.identity import normalise_phone
from marathon.blueprints.auth.models import User
from marathon.core.clock import now
from marathon.core.errors import DomainError
from marathon.core.security import decode, is_revoked, revoke, revoke_versions_below
from marathon.extensions import db


class AuthError(DomainError):
    status = 401
    reason = "invalid_credentials"


def identity_hash(name, birth_date, phone):
    """A keyed hash of the person (name + birth date + phone), so the raw triple is never an index."""
    return identity.identity_hash(name, birth_date, phone, current_app.config["SECRET_KEY"])


def password_hasher():
    hasher = current_app.extensions.get("password_hasher")
    if hasher is None:
        hasher = PasswordHasher(
            time_cost=current_app.config["ARGON2_TIME_COST"], memory_cost=current_app.config["ARGON2_MEMORY_COST"]
        )
        current_app.extensions["password_hasher"] = hasher
    return hasher


def create_user(email, password, name, birth_date, phone, roles="runner", signup_ip=None, password_hash=None):
    """Create an account; raises DomainError 409 email_taken or identity_taken."""
    email = email.strip().lower()
    person = identity_hash(name, birth_date, phone)
    if db.session.query(User.id).filter_by(email=email).first():
        raise DomainError("an account with this email already exists", "email_taken")
    if db.session.query(User.id).filter_by(identity_hash=person).first():
        raise DomainError("this person already has an account (one account per person)", "identity_taken")
    user = User(
        email=email,
        password_hash=password_hash or password_hasher().hash(password),
        name=name.strip(),
        birth_date=birth_date,
        phone=normalise_phone(phone),
        identity_hash=person,
        roles=roles,
        signup_ip=signup_ip,
    )
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        # two signups raced past the checks above; the unique indexes decided
        db.session.rollback()
        taken = db.session.query(User.id).filter_by(email=email).first()
        raise DomainError(
            "an account with this email already exists" if taken else "this person already has an account",
            "email_taken" if taken else "identity_taken",
        ) from None
    return user


def create_runners(people, password_hash):
    """Insert many runner accounts in one statement (seeding); people are (email, name, birth_date, phone) tuples
    sharing one password hash. Returns (id, email) pairs in the given order."""
    rows = [{"email": email, "password_hash": password_hash, "name": name, "birth_date": born,
             "phone": normalise_phone(phone),
             "roles": "runner", "identity_hash": identity_hash(name, born, phone), "created_at": now()}
            for email, name, born, phone in people]
    ids = db.session.execute(
        User.__table__.insert().returning(User.id, User.email, sort_by_parameter_order=True), rows
    ).all()
    db.session.commit()
    return ids


def authenticate(email, password):
    """Return the user with this email and password; raises AuthError, the same for either mistake."""
    user = db.session.query(User).filter_by(email=email.strip().lower()).first()
    hasher = password_hasher()
    if user is None:
        # spend the same time as a real check, so the answer's timing does not reveal which emails exist
        _verify(hasher, _dummy_hash(hasher), password)
        raise AuthError("wrong email or password")
    if not _verify(hasher, user.password_hash, password):
        raise AuthError("wrong email or password")
    return user


def _verify(hasher, password_hash, password):
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _dummy_hash(hasher):
    dummy = current_app.extensions.get("password_dummy_hash")
    if dummy is None:
        dummy = current_app.extensions["password_dummy_hash"] = hasher.hash("not-a-real-password")
    return dummy


def log_out(authorization, refresh_token=None):
    """Revoke the access token (from the Authorization header) and, when given, the same account's refresh token and
    its session. An expired access token is enough when a valid refresh token of the same account comes with it.
    Raises DomainError 401 (token_missing, wrong_token_type, token_expired, token_revoked) or 422 token_invalid."""
    if not authorization.startswith("Bearer "):
        raise DomainError("missing token: Missing Authorization Header", "token_missing", status=401)
    access = decode(authorization[7:], allow_expired=True)
    if access.get("type") != "access":
        raise DomainError("invalid token: Only non-refresh tokens are allowed", "wrong_token_type", status=401)
    refresh_claims = _refresh_claims_of(refresh_token, access)
    if refresh_claims is None or refresh_claims["exp"] <= time.time():
        # without a live refresh token, the access token itself must still be good
        if access["exp"] <= time.time():
            raise DomainError("the token has expired", "token_expired", status=401)
        if is_revoked(access):
            raise DomainError("the token has been revoked", "token_revoked", status=401)
    if refresh_claims is not None:
        revoke(refresh_claims)
    revoke(access)


def _refresh_claims_of(refresh_token, access):
    if not refresh_token:
        return None
    try:
        claims = decode(refresh_token, allow_expired=True)
    except DomainError:
        raise DomainError("refresh_token is not a valid token", "token_invalid", status=422) from None
    if claims.get("sub") != access.get("sub") or claims.get("type") != "refresh":
        raise DomainError("refresh_token is not this account's refresh token", "token_invalid", status=422)
    return claims


def get_user(user_id):
    """Return a user by id, or None."""
    return db.session.get(User, int(user_id))


def name_of(user_id):
    """The account's name (one column, for bibs and orders)."""
    return db.session.execute(select(User.name).filter_by(id=int(user_id))).scalar_one()


def require_user(user_id):
    """The token's account; raises DomainError 401 token_invalid if it no longer exists."""
    user = get_user(user_id)
    if user is None:
        raise DomainError("the account no longer exists", "token_invalid", status=401)
    return user


def find_user_by_email(email):
    return db.session.query(User).filter_by(email=email.strip().lower()).first()


def make_admin(email, password, promote=False):
    """Create an admin account; or, only when asked to promote, give an existing account the admin role and this
    password and end every session it had. Raises DomainError 409 account_exists for an existing non-admin
    account without promote (someone may have signed up with the admin's email first)."""
    user = find_user_by_email(email)
    if user is None:
        # an admin is a staff account, not a runner: its identity is its email
        return create_user(email, password, f"admin {email}", date(1970, 1, 1), "0000000", roles="admin,runner")
    hasher = password_hasher()
    if user.has_role("admin"):
        if not _verify(hasher, user.password_hash, password):
            user.password_hash = hasher.hash(password)
            end_sessions(user)
        return user
    if not promote:
        raise DomainError(f"{user.email} is an existing account that is not an admin; promote it only if you know "
                          "whose it is", "account_exists")
    user.roles = ",".join(["admin", *user.role_list])
    user.password_hash = hasher.hash(password)
    end_sessions(user)
    return user


def change_password(user_id, current_password, new_password):
    """Set a new password after checking the current one, and end every session of the account.
    Raises AuthError (401) for a wrong current password."""
    user = require_user(user_id)
    hasher = password_hasher()
    if not _verify(hasher, user.password_hash, current_password):
        raise AuthError("wrong password")
    user.password_hash = hasher.hash(new_password)
    end_sessions(user)


def end_sessions(user):
    """Commit the account's pending changes with its token version bumped: every token it holds stops working."""
    db.session.flush()
    version = db.session.execute(
        update(User).where(User.id == user.id).values(token_version=User.token_version + 1)
        .returning(User.token_version)
    ).scalar_one()
    db.session.commit()
    revoke_versions_below(user.id, version)
    return version


def token_account(user_id):
    """(token_version, roles) of an account for the token checks, or None when it no longer exists."""
    row = db.session.execute(select(User.token_version, User.roles).filter_by(id=int(user_id))).first()
    return None if row is None else (row.token_version, [role for role in row.roles.split(",") if role])


def signup_records():
    """(id, email, name, created_at, signup_ip) of every account, for the bot review."""
    return db.session.execute(
        db.select(User.id, User.email, User.name, User.created_at, User.signup_ip)
    ).all()
