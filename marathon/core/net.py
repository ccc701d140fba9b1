"""The runner's network address, read through the configured number of proxies."""
from flask import current_app, request


def client_ip():
    """The caller's address: with PROXY_HOPS proxies in front, the address they appended to X-Forwarded-For."""
    hops = current_app.config["PROXY_HOPS"]
    if hops > 0:
        forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",") if part.strip()]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.remote_addr or "unknown"
