"""The `worker` process: builds the app once, then runs an RQ worker (and the lines' pacemaker) on the queues."""
import logging
import os
import signal
import sys
import threading

import redis
from rq import SimpleWorker
from rq.exceptions import StopRequested

from marathon import create_app
from marathon.admission.jobs import Pacemaker
from marathon.core.jobs import QUEUES
from marathon.extensions import redis_store

log = logging.getLogger("marathon.worker")
# how long to wait between attempts while Redis is away, at most
REDIS_BACKOFF_MAX_S = 5.0
STOPPING = threading.Event()


class LineWorker(SimpleWorker):
    """RQ's SimpleWorker that remembers a SIGTERM/SIGINT, so the process stops instead of starting a new worker."""

    def request_stop(self, signum, frame):
        STOPPING.set()
        super().request_stop(signum, frame)


def wait_for_redis(client):
    """Return once Redis answers, asking again with a growing pause (up to REDIS_BACKOFF_MAX_S)."""
    pause = 0.2
    while not STOPPING.is_set():
        try:
            if client.ping():
                return
        except redis.exceptions.RedisError as error:
            log.warning("Redis unavailable (%s); retrying in %.1f s", type(error).__name__, pause)
        STOPPING.wait(pause)
        pause = min(pause * 2, REDIS_BACKOFF_MAX_S)


def run_workers(level):
    """Run RQ workers until asked to stop. RQ quits its loop when Redis goes away mid-job (or raises while
    registering): a new worker is started once Redis answers again, so a Redis restart heals without a redeploy."""
    while not STOPPING.is_set():
        try:
            wait_for_redis(redis_store.client)
            if STOPPING.is_set():
                return
            # SimpleWorker runs jobs in this process, inside the app built once (no fork per job)
            LineWorker(list(QUEUES), connection=redis_store.client).work(with_scheduler=False, logging_level=level)
        except StopRequested:
            return
        except redis.exceptions.RedisError as error:
            log.warning("RQ worker stopped by a Redis error (%s); starting a new one", type(error).__name__)
        if not STOPPING.is_set():
            log.warning("RQ worker left its loop without a stop request; starting a new one")


def main():
    level = os.environ.get("WORKER_LOG_LEVEL", "WARNING")
    logging.basicConfig(level=level, stream=sys.stdout)
    # until RQ installs its own handlers (after it registers), SIGTERM means a clean exit with nothing in hand
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = create_app()
    with app.app_context():
        pacemaker = Pacemaker(app)
        pacemaker.start()
        try:
            run_workers(level)
        finally:
            pacemaker.stop()


if __name__ == "__main__":
    main()
