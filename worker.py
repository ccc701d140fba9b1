"""The `worker` process: builds the app once, then runs an RQ worker on the project's queues."""
import logging
import os
import signal
import sys

from rq import SimpleWorker

from marathon import create_app
from marathon.core.jobs import QUEUES
from marathon.extensions import redis_store


def main():
    logging.basicConfig(level=os.environ.get("WORKER_LOG_LEVEL", "WARNING"), stream=sys.stdout)
    app = create_app()
    with app.app_context():
        connection = redis_store.client
        # SimpleWorker runs jobs in this process, inside the app built once above (no fork per job)
        worker = SimpleWorker(list(QUEUES), connection=connection)
        worker.log.setLevel(logging.WARNING)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        worker.work(with_scheduler=False, logging_level="WARNING")


if __name__ == "__main__":
    main()
