"""The Redis connection: one blocking pool per process, sized for gevent concurrency."""
from pathlib import Path

import redis
from flask import current_app


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

    @property
    def client(self) -> redis.Redis:
        return current_app.extensions["redis"]
