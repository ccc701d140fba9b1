"""How many runners a bucket's line may admit now. The reference of the Lua copy (`admissible` in
marathon.blueprints.lines.scripts); tests/test_rule_mirrors.py holds the two equal."""
from flask import current_app

from marathon.blueprints.races.models import free_places


def admission_window(capacity):
    """How many of a bucket's places may be held (admitted, not yet paid) at once: ADMIT_WINDOW_PER_BUCKET, or all."""
    window = current_app.config.get("ADMIT_WINDOW_PER_BUCKET") or 0
    return min(window, capacity) if window > 0 else capacity


def admissible(capacity, held, confirmed, window):
    """How many runners a bucket may admit now: its free places, within its admission window."""
    return min(free_places(capacity, held, confirmed), window - held)
