"""The runner's page and the admin's board: HTML shells whose scripts speak only the public API."""
from flask import Blueprint, render_template, send_from_directory

bp = Blueprint("pages", __name__, template_folder="templates", static_folder="static",
               static_url_path="/pages/static")


# everything the pages load is ours (scripts, styles, the QR code as inline SVG): nothing inline, nothing foreign
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
                               "form-action 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(self)",
}


@bp.after_request
def _security_headers(response):
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


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
