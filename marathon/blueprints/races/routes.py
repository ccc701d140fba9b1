"""Race endpoints: the public catalogue and race detail, and the admin API that runs a sale."""
from flask import current_app, request
from flask_jwt_extended import get_jwt

from marathon.blueprints.auth import services as accounts
from marathon.blueprints.races import presenters as race_views
from marathon.blueprints.races import services as races
from marathon.blueprints.ticketing.blueprint import blp
from marathon.blueprints.races.schemas import (BucketFiguresSchema, CapacitySchema, RaceSchema, RaceSpecSchema,
                                                   RaceSummarySchema, StatsSchema)
from marathon.core.security import admin_required, BEARER, current_user_id

ADMIN_ERRORS = "401 without a token, 403 without the admin role, 404 race_not_found"


def _actor():
    """Who an admin change is recorded under: the admin's email."""
    user = accounts.get_user(current_user_id())
    return user.email if user else f"user {get_jwt()['sub']}"


@blp.route("/races", methods=["GET"])
@blp.response(200, RaceSummarySchema(many=True))
def list_races():
    """Every race with its sale state."""
    return race_views.race_list()


@blp.route("/races/<race>", methods=["GET"])
@blp.response(200, RaceSchema)
@blp.alt_response(404, description="race_not_found")
def race_detail(race):
    """A race with its courses and pace groups, places remaining and runners waiting (at most a second old)."""
    response = current_app.response_class(race_views.race_detail_body(race), mimetype="application/json")
    response.headers["Cache-Control"] = "public, max-age=1"
    return response


@blp.route("/admin/races", methods=["POST"])
@admin_required
@blp.doc(security=BEARER, requestBody={"required": True, "content": {
    "application/json": {"schema": RaceSpecSchema}}})
@blp.response(201, RaceSchema)
@blp.alt_response(422, description="invalid_race_spec: the message and `errors` name each refused field")
@blp.alt_response(409, description="slug_taken")
def create_race():
    """Create a race from its spec (the same spec as `flask race create`)."""
    race = races.create_race(request.get_json(silent=True), actor=_actor())
    return race_views.admin_view(race)


def _change(race, action):
    changed = races.change_sale_state(race, action, actor=_actor())
    return race_views.admin_view(changed)


@blp.route("/admin/races/<race>/open", methods=["POST"])
@admin_required
@blp.doc(security=BEARER)
@blp.response(200, RaceSchema)
@blp.alt_response(409, description="illegal_transition (open is allowed from scheduled, lobby and paused)")
def open_sale(race):
    """Open the sale now (also early, or again after a pause)."""
    return _change(race, "open")


@blp.route("/admin/races/<race>/pause", methods=["POST"])
@admin_required
@blp.doc(security=BEARER)
@blp.response(200, RaceSchema)
@blp.alt_response(409, description="illegal_transition (pause is allowed from open)")
def pause_sale(race):
    """Pause an open sale: lines keep their order, nobody is admitted until it opens again."""
    return _change(race, "pause")


@blp.route("/admin/races/<race>/close", methods=["POST"])
@admin_required
@blp.doc(security=BEARER)
@blp.response(200, RaceSchema)
@blp.alt_response(409, description="illegal_transition (the sale is already closed)")
def close_sale(race):
    """Close the sale for good."""
    return _change(race, "close")


@blp.route("/admin/races/<race>/stats", methods=["GET"])
@admin_required
@blp.doc(security=BEARER, description=ADMIN_ERRORS)
@blp.response(200, StatsSchema)
def race_stats(race):
    """Per bucket and in total: capacity, confirmed, held, remaining, waiting and admitted so far."""
    return race_views.stats(races.get_race(race))


@blp.route("/admin/races/<race>/registrations.csv", methods=["GET"])
@admin_required
@blp.doc(security=BEARER, description=ADMIN_ERRORS)
@blp.response(200, {"type": "string"}, content_type="text/csv",
              description="columns bib, corral, name, course, pace_group, status, amount_paid")
def registrations_csv(race):
    """Every registration of the race as CSV, one row each (cancelled ones too), by bib."""
    found = races.get_race(race)
    response = current_app.response_class(race_views.registrations_csv(found), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{found.slug}-registrations.csv"'
    return response


@blp.route("/admin/races/<race>/buckets/<course>/<pace_group>", methods=["PATCH"])
@admin_required
@blp.doc(security=BEARER)
@blp.arguments(CapacitySchema)
@blp.response(200, BucketFiguresSchema)
@blp.alt_response(409, description="capacity_below_used (below held + confirmed) or bib_block_too_small")
@blp.alt_response(404, description="race_not_found or bucket_not_found")
def change_capacity(body, race, course, pace_group):
    """Change a bucket's capacity; it never goes below the places already held or confirmed."""
    bucket = races.set_capacity(race, course, pace_group, body["capacity"], actor=_actor())
    return race_views.bucket_stats(bucket)
