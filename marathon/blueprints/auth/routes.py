"""Auth endpoints: signup, login, refresh, logout, me."""

from flask import request
from flask.views import MethodView
from flask_jwt_extended import get_jwt, jwt_required
from flask_smorest import Blueprint

from marathon.blueprints.auth import schemas, services
from marathon.core.limits import failed_logins, login_backoff, per_ip, taken_answers_per_ip
from marathon.core.net import client_ip
from marathon.core.security import BEARER, check_account, current_user_id, issue_tokens, rotate_tokens

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Accounts and tokens")


@blp.route("/signup")
class Signup(MethodView):
    decorators = [taken_answers_per_ip("RATELIMIT_SIGNUP_TAKEN_PER_IP"), per_ip("RATELIMIT_SIGNUP_PER_IP")]

    @blp.arguments(schemas.SignupSchema)
    @blp.response(201, schemas.UserSchema)
    @blp.alt_response(409, description="email_taken or identity_taken")
    def post(self, body):
        """Create a runner account (one per email, one per person)."""
        return services.create_user(signup_ip=client_ip(), **body)


@blp.route("/login")
class Login(MethodView):
    decorators = [login_backoff, failed_logins(), per_ip("RATELIMIT_LOGIN_PER_IP")]

    @blp.arguments(schemas.LoginSchema)
    @blp.response(200, schemas.TokensSchema)
    @blp.alt_response(401, description="wrong email or password")
    @blp.alt_response(429, description="rate_limited: too many failed logins for this email from this address, or "
                                        "for this email from anywhere (each try then waits twice as long)")
    def post(self, body):
        """Exchange email and password for an access and a refresh token."""
        user = services.authenticate(body["email"], body["password"])
        return issue_tokens(user.id, user.role_list, user.token_version)


@blp.route("/refresh")
class Refresh(MethodView):
    @jwt_required(refresh=True)
    @blp.response(200, schemas.AccessTokenSchema)
    @blp.doc(security=BEARER)
    @blp.alt_response(401, description="token_revoked, token_reused (a spent refresh token: its session ends), ...")
    def post(self):
        """A new access token, and the next refresh token, for a valid refresh token (which is then spent)."""
        claims = get_jwt()
        roles = check_account(claims)  # the account as the database has it now: its version and its roles
        user = services.require_user(claims["sub"])
        tokens = rotate_tokens(claims, roles, user.token_version)
        return {"access_token": tokens["access_token"], "expires_in": tokens["expires_in"],
                "refresh_token": tokens["refresh_token"]}


@blp.route("/logout")
class Logout(MethodView):
    @blp.arguments(schemas.LogoutSchema, required=False)
    @blp.response(204)
    @blp.doc(security=BEARER)
    @blp.alt_response(401, description="no access token; or an expired or revoked one without a valid refresh_token")
    def post(self, body):
        """Revoke the access token and, when given, the refresh token and its session. An expired access token is
        enough when the body carries a valid refresh token of the same account."""
        services.log_out(request.headers.get("Authorization", ""), (body or {}).get("refresh_token"))


@blp.route("/logout-all")
class LogoutEverywhere(MethodView):
    @jwt_required()
    @blp.response(204)
    @blp.doc(security=BEARER)
    def post(self):
        """End every session of the account, on every device: each token it holds stops working."""
        services.end_sessions(services.require_user(current_user_id()))


@blp.route("/password")
class Password(MethodView):
    @jwt_required()
    @blp.arguments(schemas.PasswordChangeSchema)
    @blp.response(204)
    @blp.doc(security=BEARER)
    @blp.alt_response(401, description="invalid_credentials: the current password is wrong")
    def post(self, body):
        """Change the password; every session of the account ends (sign in again with the new one)."""
        services.change_password(current_user_id(), body["current_password"], body["new_password"])


@blp.route("/me")
class Me(MethodView):
    @jwt_required()
    @blp.response(200, schemas.MeSchema)
    @blp.doc(security=BEARER)
    def get(self):
        """The signed-in account."""
        return services.require_user(current_user_id())
