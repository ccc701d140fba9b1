"""How many runners a bucket's line may admit now. The reference of the Lua copy (`admissible` in
marathon.blueprints.lines.scripts); tests/test_rule_mirrors.py holds the two equal."""
from flask import current_app

from marathon.blueprints.races.models import free_places


# a bucket's admission window before the pacing (marathon.admission.pacing) has measured any payment
OPENING_WINDOW = 25


def window_cap(capacity):
    """The most of a bucket's places that may be held (admitted, not yet paid) at once, whatever the pacing says:
    ADMIT_WINDOW_PER_BUCKET (an upper bound nobody needs to set), else its capacity."""
    cap = current_app.config.get("ADMIT_WINDOW_PER_BUCKET") or 0
    return min(cap, capacity) if cap > 0 else capacity


def opening_window(capacity):
    """A bucket's admission window until the pacing's first adjustment."""
    return max(0, min(OPENING_WINDOW, window_cap(capacity)))


def admissible(capacity, held, confirmed, window):
    """How many runners a bucket may admit now: its free places, within its admission window."""
    return min(free_places(capacity, held, confirmed), window - held)
