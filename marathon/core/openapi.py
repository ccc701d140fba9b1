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
