"""The `worker` process: builds the app once, then runs an RQ worker (and the lines' pacemaker) on the queues."""
import logging
import os
import signal
import sys

from rq import SimpleWorker

from marathon import create_app
from marathon.blueprints.ticketing.jobs import Pacemaker
from marathon.core.jobs import QUEUES
from marathon.extensions import redis_store


def main():
    logging.basicConfig(level=os.environ.get("WORKER_LOG_LEVEL", "WARNING"), stream=sys.stdout)
    # until RQ installs its own handlers (after it registers), SIGTERM means a clean exit with nothing in hand
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = create_app()
    with app.app_context():
        pacemaker = Pacemaker(app)
        pacemaker.start()
        # SimpleWorker runs jobs in this process, inside the app built once above (no fork per job)
        worker = SimpleWorker(list(QUEUES), connection=redis_store.client)
        try:
            worker.work(with_scheduler=False, logging_level=os.environ.get("WORKER_LOG_LEVEL", "WARNING"))
        finally:
            pacemaker.stop()


if __name__ == "__main__":
    main()
