"""RQ queues: jobs are enqueued by dotted path with ids as arguments, never ORM objects."""
from rq import Queue

from marathon.extensions import redis_store

QUEUES = ("admissions", "default")


def queue(name="default"):
    return Queue(name, connection=redis_store.client)


def enqueue(path, *args, queue_name="default", **options):
    """Enqueue the function at `path` (e.g. 'marathon.blueprints.x.jobs.f') with plain arguments."""
    return queue(queue_name).enqueue(path, *args, **options)
