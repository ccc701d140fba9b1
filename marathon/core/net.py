"""The runner's network address, read through the configured number of proxies."""
from flask import current_app, request


def client_ip():
    """The caller's address: with PROXY_HOPS proxies in front, the address they appended to X-Forwarded-For."""
    return client_ip_of(request.environ)


def client_ip_of(environ):
    """client_ip() for a WSGI environ (the fast paths have no Flask request)."""
    hops = current_app.config["PROXY_HOPS"]
    if hops > 0:
        forwarded = [part.strip() for part in environ.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return environ.get("REMOTE_ADDR") or "unknown"
