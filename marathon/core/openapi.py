"""The error answers every operation can give, documented once for all of them (an apispec plugin)."""
from apispec import BasePlugin

RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before trying again", "schema": {"type": "integer"}}}


class CommonResponses(BasePlugin):
    """Adds to each operation the errors the whole service can answer with: 503 (a dependency is away) everywhere,
    401 where a token is needed, 403 on admin routes, 404 where the path names something, 400 and 413 where a body is taken; and gives
    every documented error the error body and 429/503 their Retry-After header."""

    def init_spec(self, spec):
        super().init_spec(spec)
        self.spec = spec

    def _error(self, description, headers=None):
        response = {"description": description,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        if headers:
            response["headers"] = headers
        return response

    def operation_helper(self, path=None, operations=None, **kwargs):
        for method, operation in (operations or {}).items():
            if method not in ("get", "put", "post", "patch", "delete"):
                continue
            responses = operation.setdefault("responses", {})
            # flask-smorest keys its responses by int, apispec writes them as strings: one key per status
            for code in [code for code in responses if not isinstance(code, str)]:
                responses[str(code)] = responses.pop(code)
            responses.setdefault("503", self._error("a dependency (database or Redis) is briefly away", RETRY_AFTER))
            if "429" in responses:
                described = responses["429"] if isinstance(responses["429"], dict) else {}
                responses["429"] = self._error(described.get("description") or "too many requests", RETRY_AFTER)
            if operation.get("security"):
                responses.setdefault("401", self._error("missing, invalid, expired or revoked token"))
            if (path or "").startswith("/api/v1/admin"):
                responses.setdefault("403", self._error("needs the admin role"))
            if "{" in (path or ""):
                responses.setdefault("404", self._error("nothing of yours by that name"))
            if "requestBody" in operation:
                responses.setdefault("400", self._error("the body is not JSON"))
                responses.setdefault("413", self._error("body larger than 64 KiB"))
            # an error documented only by its description (alt_response without a schema) still has the error body
            for code, response in responses.items():
                if code[:1] in "45" and isinstance(response, dict) and "$ref" not in response \
                        and "content" not in response:
                    response.update(self._error(response.get("description") or code))


# the docs page is flask-smorest's template, with its one inline script; Swagger UI sets inline styles
DOCS_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' "
                               "'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; "
                               "object-src 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def serve_swagger_ui(app):
    """Serve Swagger UI's files from the installed swagger-ui-bundle package at OPENAPI_SWAGGER_UI_URL (no CDN: the
    docs work where the CDN is unreachable, and nothing from elsewhere runs on our origin)."""
    from flask import request, send_from_directory
    from swagger_ui_bundle import swagger_ui_path

    prefix = app.config["OPENAPI_SWAGGER_UI_URL"]
    docs = app.config["OPENAPI_URL_PREFIX"].rstrip("/") + app.config["OPENAPI_SWAGGER_UI_PATH"]

    def swagger_ui_file(filename):
        return send_from_directory(str(swagger_ui_path), filename, max_age=86400)

    app.add_url_rule(f"{prefix}<path:filename>", "swagger_ui_file", swagger_ui_file)

    @app.after_request
    def _docs_headers(response):
        if request.path.startswith(docs):
            for name, value in DOCS_HEADERS.items():
                response.headers.setdefault(name, value)
        return response
