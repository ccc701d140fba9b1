"""Auth endpoints: signup, login, refresh, logout, me."""
from flask.views import MethodView
from flask_jwt_extended import get_jwt, jwt_required
from flask_smorest import Blueprint

from marathon.blueprints.auth import schemas, services
from marathon.core.limits import failed_logins, per_ip
from marathon.core.net import client_ip
from marathon.core.security import BEARER, current_user_id, issue_tokens

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Accounts and tokens")


@blp.route("/signup")
class Signup(MethodView):
    decorators = [per_ip("RATELIMIT_SIGNUP_PER_IP")]

    @blp.arguments(schemas.SignupSchema)
    @blp.response(201, schemas.UserSchema)
    @blp.alt_response(409, description="email_taken or identity_taken")
    def post(self, body):
        """Create a runner account (one per email, one per person)."""
        return services.create_user(signup_ip=client_ip(), **body)


@blp.route("/login")
class Login(MethodView):
    decorators = [failed_logins(), per_ip("RATELIMIT_LOGIN_PER_IP")]

    @blp.arguments(schemas.LoginSchema)
    @blp.response(200, schemas.TokensSchema)
    @blp.alt_response(401, description="wrong email or password")
    @blp.alt_response(429, description="rate_limited: too many failed logins for this email from this address")
    def post(self, body):
        """Exchange email and password for an access and a refresh token."""
        user = services.authenticate(body["email"], body["password"])
        return issue_tokens(user.id, user.role_list)


@blp.route("/refresh")
class Refresh(MethodView):
    @jwt_required(refresh=True)
    @blp.response(200, schemas.AccessTokenSchema)
    @blp.doc(security=BEARER)
    def post(self):
        """A new access token for a valid refresh token."""
        user = services.require_user(current_user_id())
        tokens = issue_tokens(user.id, user.role_list)
        return {"access_token": tokens["access_token"], "expires_in": tokens["expires_in"]}


@blp.route("/logout")
class Logout(MethodView):
    @jwt_required()
    @blp.arguments(schemas.LogoutSchema, required=False)
    @blp.response(204)
    @blp.doc(security=BEARER)
    def post(self, body):
        """Revoke the access token and, when given, the refresh token."""
        services.log_out(get_jwt(), (body or {}).get("refresh_token"))


@blp.route("/me")
class Me(MethodView):
    @jwt_required()
    @blp.response(200, schemas.MeSchema)
    @blp.doc(security=BEARER)
    def get(self):
        """The signed-in account."""
        return services.require_user(current_user_id())
