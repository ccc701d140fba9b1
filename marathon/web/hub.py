"""The hub of pushed status: one Redis pattern subscription per web process, read by one greenlet, that wakes the open
streams of the runners each message names (and nobody else's), and keeps those runners present for the idle rule."""
import logging
import threading
import time

import redis

from marathon.blueprints.lines.keys import EVENTS_PATTERN, RaceKeys, race_of_channel, text
from marathon.core.clock import now, to_ms
from marathon.extensions import redis_store

log = logging.getLogger(__name__)
# the line's idle rule skips runners not seen for LINE_IDLE_SECONDS: an open stream refreshes its runner's mark
PRESENCE_S = 10
# true once the process is asked to stop (gunicorn.conf.py sets it): open streams then end, instead of holding the
# worker for its graceful timeout, and their EventSource reconnects to a live worker
_stopping = [lambda: False]


def end_streams_when(predicate):
    """Name the process's stop condition (a callable); the hub ends every open stream within a second of it."""
    _stopping[0] = predicate


def _gevent_patched():
    try:
        from gevent import monkey
    except ImportError:
        return False
    return monkey.is_module_patched("socket")


class Hub:
    """The process's one subscription to every race's events channel, and the wakers of the streams it wakes (an
    Event each: about 150 bytes, where a gevent Queue costs 3 KB and 15,000 streams wait at once)."""

    def __init__(self, app):
        self.app = app
        self.cooperative = _gevent_patched()
        self.streams = {}  # race id -> {user id (str): [waker, ...]}
        self.started = self.stopped = False
        self._starting = threading.Lock()
        self._pubsub = None

    def open(self, race_id, user_id):
        """A waker for a new stream of this runner, set whenever a message names them."""
        self.start()
        waker = _new_waker(self.cooperative)
        self.streams.setdefault(race_id, {}).setdefault(str(user_id), []).append(waker)
        return waker

    def close(self, race_id, user_id, waker):
        runners = self.streams.get(race_id, {})
        wakers = runners.get(str(user_id), [])
        if waker in wakers:
            wakers.remove(waker)
        if not wakers:
            runners.pop(str(user_id), None)
        if not runners:
            self.streams.pop(race_id, None)

    def fan_out(self, channel, data):
        """Wake the open streams of the runners a message names, and nobody else's; returns how many were woken."""
        runners = self.streams.get(race_of_channel(channel))
        if not runners:
            return 0
        woken = 0
        for user in text(data).split(","):
            for waker in runners.get(user, ()):
                waker.set()
                woken += 1
        return woken

    def wake_all(self):
        """Wake every open stream: after the subscription was lost (any runner may have missed a change) and at a
        stop (every stream then ends)."""
        for runners in list(self.streams.values()):
            for wakers in list(runners.values()):
                for waker in wakers:
                    waker.set()

    def mark_present(self):
        """Runners with an open stream count as present for the line's idle rule: one HSET per race, one pipeline."""
        moment = to_ms(now())
        with redis_store.client.pipeline(transaction=False) as pipe:
            for race_id, runners in list(self.streams.items()):
                users = list(runners)
                if users:
                    pipe.hset(RaceKeys(race_id).seen, mapping=dict.fromkeys(users, moment))
            pipe.execute()

    def start(self):
        """Subscribe (waiting for Redis to confirm, so no change published after a stream opened is missed), then
        read the subscription in one greenlet (a thread without gevent)."""
        if self.started:
            return
        with self._starting:
            if self.started:
                return
            self._pubsub = self._subscribe()
            if self.cooperative:
                import gevent

                gevent.spawn(self._run)
            else:
                threading.Thread(target=self._run, name="event-hub", daemon=True).start()
            self.started = True

    def stop(self):
        """End every open stream at once, and the reader within a second."""
        self.stopped = True
        self.wake_all()

    def _subscribe(self):
        client = redis.Redis.from_url(self.app.config["REDIS_URL"], socket_connect_timeout=2,
                                      health_check_interval=30)
        pubsub = client.pubsub()
        pubsub.psubscribe(EVENTS_PATTERN)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            message = pubsub.get_message(timeout=1)
            if message and message["type"] == "psubscribe":
                return pubsub
        pubsub.close()
        raise redis.exceptions.TimeoutError("Redis did not confirm the events subscription")

    def _run(self):
        pubsub, present_at = self._pubsub, time.monotonic() + PRESENCE_S
        with self.app.app_context():
            while not self.stopped:
                if _stopping[0]():
                    self.stop()
                    break
                try:
                    if pubsub is None:
                        pubsub = self._pubsub = self._subscribe()
                        self.wake_all()
                    message = pubsub.get_message(timeout=max(0.05, min(1.0, present_at - time.monotonic())))
                    if message and message["type"] == "pmessage":
                        self.fan_out(message["channel"], message["data"])
                    if time.monotonic() >= present_at:
                        present_at = time.monotonic() + PRESENCE_S
                        self.mark_present()
                except Exception as error:  # Redis away, or a malformed message: the hub must outlive both
                    log.warning("event hub: %s; subscribing again", type(error).__name__,
                                exc_info=not isinstance(error, redis.exceptions.RedisError))
                    if pubsub is not None:
                        _quietly(pubsub.close)
                    pubsub = None
                    time.sleep(1)
            if pubsub is not None:
                _quietly(pubsub.close)


def _quietly(call):
    try:
        call()
    except Exception:
        pass


def _new_waker(cooperative):
    if cooperative:
        from gevent.event import Event

        return Event()
    return threading.Event()


def hub_of(app):
    """The process's hub (made on first use)."""
    hub = app.extensions.get("event_hub")
    if hub is None:
        hub = app.extensions.setdefault("event_hub", Hub(app))
    return hub
