"""The runner's page and the admin's board: HTML shells whose scripts speak only the public API."""
from flask import Blueprint, render_template, send_from_directory

bp = Blueprint("pages", __name__, template_folder="templates", static_folder="static",
               static_url_path="/pages/static")


@bp.get("/")
def runner():
    """The runner's page: sign in, choose a bucket, wait, pay, see the bib."""
    return render_template("pages/runner.html")


@bp.get("/admin")
def admin():
    """The admin's live board of a race's buckets."""
    return render_template("pages/admin.html")


@bp.get("/favicon.ico")
def favicon():
    """The pages' icon (an SVG; browsers that ask for /favicon.ico get it too)."""
    response = send_from_directory(bp.static_folder, "favicon.svg", mimetype="image/svg+xml", max_age=86400)
    return response
