"""flask-limiter's Limiter with its storage kept per app, since the tests build many apps in one process."""
from flask import current_app, has_app_context
from flask_limiter import Limiter


class AppLimiter(Limiter):
    """flask-limiter keeps its storage and strategy on the extension object; the last app initialised would win."""

    def init_app(self, app):
        super().init_app(app)
        app.extensions["limiter_backend"] = (self.__dict__["_own_storage"], self.__dict__["_own_limiter"])

    def _backend(self, index, own):
        if has_app_context() and "limiter_backend" in current_app.extensions:
            return current_app.extensions["limiter_backend"][index]
        return self.__dict__.get(own)

    @property
    def _storage(self):
        return self._backend(0, "_own_storage")

    @_storage.setter
    def _storage(self, value):
        self.__dict__["_own_storage"] = value

    @property
    def _limiter(self):
        return self._backend(1, "_own_limiter")

    @_limiter.setter
    def _limiter(self, value):
        self.__dict__["_own_limiter"] = value
