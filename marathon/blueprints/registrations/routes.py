"""Registration endpoints: the caller's own, and the official transfer (cancel with refund is the payment blueprint's
route: it moves money)."""
from flask.views import MethodView
from flask_jwt_extended import jwt_required

from marathon.blueprints.registrations import services, transfers
from marathon.blueprints.registrations.schemas import EmergencyInfoSchema, RegistrationSchema, TransferSchema
from marathon.blueprints.ticketing.blueprint import blp
from marathon.core.security import BEARER, current_user_id


@blp.route("/registrations")
class MyRegistrations(MethodView):
    @jwt_required()
    @blp.response(200, RegistrationSchema(many=True))
    @blp.doc(security=BEARER)
    def get(self):
        """The caller's registrations, newest first."""
        return [services.registration_view(r) for r in services.registrations_of(current_user_id())]


@blp.route("/registrations/<int:registration_id>")
class MyRegistration(MethodView):
    @jwt_required()
    @blp.response(200, RegistrationSchema)
    @blp.doc(security=BEARER)
    @blp.alt_response(404, description="registration_not_found: not yours, or none")
    def get(self, registration_id):
        """One of the caller's registrations."""
        return services.registration_view(services.registration_of(registration_id, current_user_id()))

    @jwt_required()
    @blp.arguments(EmergencyInfoSchema)
    @blp.response(200, RegistrationSchema)
    @blp.doc(security=BEARER)
    @blp.alt_response(404, description="registration_not_found: not yours, or none")
    def patch(self, body, registration_id):
        """Set the blood type and emergency contact printed on the caller's bib."""
        registration = services.set_emergency_info(registration_id, current_user_id(), **body)
        return services.registration_view(registration)


@blp.route("/registrations/<int:registration_id>/transfer")
class TransferRegistration(MethodView):
    @jwt_required()
    @blp.arguments(TransferSchema)
    @blp.response(200, RegistrationSchema)
    @blp.doc(security=BEARER)
    @blp.alt_response(404, description="unknown_recipient, or registration_not_found")
    @blp.alt_response(409, description="recipient_registered, transfer_closed or not_transferable")
    def post(self, body, registration_id):
        """Transfer the bib to another runner's account at face value: same bib, the new runner's name, blood type
        and emergency contact."""
        registration = transfers.transfer_registration(registration_id, current_user_id(), **body)
        return services.registration_view(registration)
