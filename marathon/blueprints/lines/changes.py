"""Runners' places changed: tell the web processes, which push the new status to those runners' open event streams."""
import logging

import redis

from marathon.blueprints.lines.keys import RaceKeys
from marathon.extensions import redis_store

log = logging.getLogger(__name__)
# ids per message: a sell-out of thousands goes out in a few messages, none of them large
CHUNK = 1000


def publish_changes(race_id, user_ids):
    """PUBLISH the runners' ids, comma-separated, on the race's events channel; never raises on a Redis error.
    Best effort by design: a stream that misses a message still sees the change at its next refresh."""
    ids = [str(int(user_id)) for user_id in user_ids]
    if not ids:
        return
    channel = RaceKeys(race_id).events
    try:
        if len(ids) <= CHUNK:
            redis_store.client.publish(channel, ",".join(ids))
            return
        with redis_store.client.pipeline(transaction=False) as pipe:
            for start in range(0, len(ids), CHUNK):
                pipe.publish(channel, ",".join(ids[start:start + CHUNK]))
            pipe.execute()
    except redis.exceptions.RedisError:
        log.warning("could not publish the changes of %d runners of race %s", len(ids), race_id)
