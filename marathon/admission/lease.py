"""One owner of a bucket's admission at a time, however slow its work and however many workers run.

A worker takes the bucket's lease (a Redis key with a time to live) before it pops runners, and a thread renews the
lease while the work lasts, so a slow admission (a database under load) keeps it. Every lease carries a fencing
token, increasing per bucket: the POP and FINISH scripts act only for the lease's current token, and the admission's
transaction moves the bucket's `fence` column up to its token (refused when a newer owner has been there), so an
owner that lost its lease while paused or stalled can neither take runners from the line nor commit holds after a
newer owner began. First come, first served then holds with any number of workers.
"""
import logging
import threading

from flask import current_app

from marathon.blueprints.lines import engine as line
from marathon.extensions import redis_store

log = logging.getLogger(__name__)


class LeaseLost(Exception):
    """A newer owner has the bucket: this one must stop without touching the line or the database."""


class Lease:
    """The bucket's lease: `with Lease(keys, bucket_id) as lease:` gives the lease or None when another owner has it."""

    def __init__(self, keys, bucket_id, ttl_ms=None):
        self.key, self.fence_key = keys.lock(bucket_id), keys.fence(bucket_id)
        self.ttl_ms = ttl_ms or current_app.config["ADMISSION_LEASE_MS"]
        self.token, self.held, self.lost = None, False, threading.Event()
        self._stop = threading.Event()
        self._renewer = None

    def __enter__(self):
        client = redis_store.client
        self.token = int(client.incr(self.fence_key))
        self.held = bool(client.set(self.key, self.token, nx=True, px=self.ttl_ms))
        if not self.held:
            return None
        renew = line.script("RENEW")
        self._renewer = threading.Thread(target=self._renew, args=(renew,), name="lease-renewer", daemon=True)
        self._renewer.start()
        return self

    def _renew(self, renew):
        while not self._stop.wait(self.ttl_ms / 3000):
            try:
                if not renew(keys=[self.key], args=[self.token, self.ttl_ms]):
                    self.lost.set()
                    log.warning("admission lease %s lost to a newer owner", self.key)
                    return
            except Exception:  # a Redis blip: the next try may succeed; the fence guards meanwhile
                log.warning("could not renew the admission lease %s", self.key, exc_info=True)

    def check(self):
        """Raise LeaseLost when the renewer saw a newer owner."""
        if self.lost.is_set():
            raise LeaseLost(self.key)

    def __exit__(self, *_exc):
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(1)
        if self.held:
            line.script("UNLOCK")(keys=[self.key], args=[self.token])
