"""Fault injection for the crash tests: MARATHON_FAILPOINT=name:seconds pauses the process at `failpoint(name)`."""
import os
import sys
import time


def failpoint(name):
    """Pause here for the seconds MARATHON_FAILPOINT gives this name, so a test can kill the process at this step;
    with the variable unset (always, outside the crash tests) this is one dictionary lookup."""
    spec = os.environ.get("MARATHON_FAILPOINT", "")
    if spec.startswith(name + ":"):
        print(f"failpoint {name}: pausing {spec.split(':', 1)[1]} s", file=sys.stderr, flush=True)
        time.sleep(float(spec.split(":", 1)[1]))
