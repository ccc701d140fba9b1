"""The Redis connection: one blocking pool per process, sized for gevent concurrency, and a batcher of scripts."""
from pathlib import Path

import redis
from flask import current_app

# the longest a caller waits for its batched script's reply before it gets redis.TimeoutError (then a 503)
BATCH_WAIT_S = 10
BATCH_MAX = 512


def dev_redis_url(instance_dir):
    """The URL of the Redis that `make run` started, if it left one in the instance folder."""
    path = Path(instance_dir) / "redis-url"
    return path.read_text().strip() if path.exists() else None


class RedisStore:
    """Gives the app's Redis client; redis-py's default pool raises under gevent, a blocking pool waits."""

    def init_app(self, app):
        url = app.config.get("REDIS_URL") or dev_redis_url(app.instance_path) or "redis://127.0.0.1:6379/0"
        app.config["REDIS_URL"] = url
        pool = redis.BlockingConnectionPool.from_url(
            url,
            max_connections=app.config["REDIS_MAX_CONNECTIONS"],
            timeout=app.config["REDIS_POOL_TIMEOUT"],
            socket_connect_timeout=2,
            socket_timeout=5,
            health_check_interval=30,
        )
        app.extensions["redis"] = redis.Redis(connection_pool=pool)
        app.extensions["redis_batcher"] = ScriptBatcher(app.extensions["redis"])

    @property
    def client(self) -> redis.Redis:
        return current_app.extensions["redis"]

    def run_script(self, script, keys, args):
        """Run a registered Lua script; under gevent, together with the other greenlets' calls of the moment."""
        return current_app.extensions["redis_batcher"].call(script, keys, args)


def _gevent_patched():
    try:
        from gevent import monkey
    except ImportError:
        return False
    return monkey.is_module_patched("socket")


class ScriptBatcher:
    """Sends the EVALSHA calls that greenlets make at about the same moment in one pipeline: one write and one
    round trip for the lot, instead of a pooled connection and a round trip each. Each script still runs atomically,
    in the order the calls were made. Outside gevent (tests, RQ workers) a call is sent at once, on its own."""

    def __init__(self, client):
        self.client = client
        self.queue = []
        self.flushing = False
        self.batched = None  # decided on first use: gunicorn's gevent worker patches before the app is loaded

    def call(self, script, keys, args):
        if self.batched is None:
            self.batched = _gevent_patched()
        if not self.batched:
            return script(keys=keys, args=args)
        import gevent
        from gevent.event import AsyncResult

        result = AsyncResult()
        self.queue.append((script, keys, args, result))
        if not self.flushing:
            self.flushing = True
            gevent.spawn(self._flush)
        try:
            return result.get(timeout=BATCH_WAIT_S)
        except gevent.Timeout:
            raise redis.exceptions.TimeoutError("no reply from Redis in time") from None

    def _flush(self):
        try:
            while self.queue:
                batch, self.queue = self.queue[:BATCH_MAX], self.queue[BATCH_MAX:]
                try:
                    replies = self._send(batch)
                except Exception as error:  # connection trouble: every caller of the batch gets it
                    for *_, result in batch:
                        result.set_exception(error)
                    continue
                for (*_, result), reply in zip(batch, replies):
                    if isinstance(reply, Exception):
                        result.set_exception(reply)
                    else:
                        result.set(reply)
        finally:
            self.flushing = False

    def _send(self, batch):
        with self.client.pipeline(transaction=False) as pipe:
            for script, keys, args, _result in batch:
                pipe.evalsha(script.sha, len(keys), *keys, *args)
            replies = pipe.execute(raise_on_error=False)
        for index, reply in enumerate(replies):
            if isinstance(reply, redis.exceptions.NoScriptError):
                # a Redis that restarted has lost its scripts: the plain call loads it again
                script, keys, args, _result = batch[index]
                try:
                    replies[index] = script(keys=keys, args=args)
                except Exception as error:
                    replies[index] = error
        return replies
