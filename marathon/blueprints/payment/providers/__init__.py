"""Payment providers behind one interface, chosen by PAYMENT_PROVIDER."""
from flask import current_app

from marathon.blueprints.payment.providers.fake import FakeProvider
from marathon.blueprints.payment.providers.toss import TossProvider


def build(config):
    """The provider the settings name."""
    if config["PAYMENT_PROVIDER"] == "toss":
        return TossProvider(config["TOSS_SECRET_KEY"], config.get("TOSS_CLIENT_KEY"), config["TOSS_API_URL"])
    return FakeProvider()


def provider():
    """The app's provider, built once per process."""
    extensions = current_app.extensions
    if "payment_provider" not in extensions:
        extensions["payment_provider"] = build(current_app.config)
    return extensions["payment_provider"]
