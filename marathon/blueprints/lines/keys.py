"""Every Redis key of a race, built here. One hash tag per race keeps a race's keys (and so each bucket's) in one slot,
so a join's script, which reads the race's sale state and membership and writes a bucket's line, is single-slot."""


class RaceKeys:
    def __init__(self, race_id):
        self.race_id = int(race_id)
        self.tag = f"{{r{self.race_id}}}"

    @property
    def prefix(self):
        """What every key of the race starts with; scripts build a bucket's keys from it."""
        return f"m:{self.tag}:"

    def _key(self, *parts):
        return ":".join(("m", self.tag, *map(str, parts)))

    @property
    def sale(self):
        """HASH: lobby_ms, opens_ms, closes_ms, manual, hold_s, idle_ms, pow, shuffled."""
        return self._key("sale")

    @property
    def redis_run(self):
        """STRING: the run_id of the redis-server the race was last known whole on (a new one: rebuilt from AOF)."""
        return self._key("run")

    @property
    def buckets(self):
        """HASH: line name ('10K/5') -> bucket id."""
        return self._key("buckets")

    def bucket(self, bucket_id):
        """HASH: capacity, held, confirmed, seq, admitted_total, rate, soldout, price, window (set by the pacing),
        admitted_ms (the last admission)."""
        return self._key("b", bucket_id)

    def line(self, bucket_id):
        """ZSET: user id -> order (shuffled lobby entries below zero, later arrivals by arrival number)."""
        return self._key("line", bucket_id)

    def lobby(self, bucket_id):
        """ZSET: user id -> arrival number, for joins before the opening (until the shuffle)."""
        return self._key("lobby", bucket_id)

    def pending(self, bucket_id):
        """HASH: user id -> 'arrival|score' of a batch popped for admission and not yet committed."""
        return self._key("pending", bucket_id)

    def lock(self, bucket_id):
        """STRING with a TTL: who holds this (bucket's) lock or lease; a bucket's lease holds its fencing token."""
        return self._key("lock", bucket_id)

    def fence(self, bucket_id):
        """STRING: the bucket's last fencing token (INCR), one per lease taken (marathon.admission.lease)."""
        return self._key("fence", bucket_id)

    @property
    def who(self):
        """HASH: user id -> the runner's place in the race ('L|bucket|arrival', 'H|...', 'R|...', 'X|...')."""
        return self._key("who")

    @property
    def told(self):
        """STREAM: holds whose runner has just been told (h: hold id, e: expiry ms), for the workers to shorten in the
        database."""
        return self._key("told")

    @property
    def pay_latency(self):
        """LIST: ms from being told of a hold to paying for it, newest first (the admission pacing's signal)."""
        return self._key("paylat")

    @property
    def pace(self):
        """HASH: window (unpaid holds the race may have at once), adjusted_ms; written by the admission pacing."""
        return self._key("pace")

    def address(self, scope, ip):
        """STRING with a TTL: requests of one address in the current window of a per-address limit (the window starts
        at its first request and lasts the limit's period, as flask-limiter's fixed window does)."""
        return self._key("ip", scope, ip or "-")

    @property
    def seen(self):
        """HASH: user id -> last time (ms) the runner asked for its status."""
        return self._key("seen")

    @property
    def next_ok(self):
        """HASH: user id -> earliest time (ms) of the runner's next status request."""
        return self._key("next")

    @property
    def joins(self):
        """STREAM: the joins and leaves not yet journaled to the database."""
        return self._key("joins")

    def pow_used(self, challenge):
        """STRING with a TTL: this proof-of-work challenge has been spent on a join (set inside the JOIN script)."""
        return self._key("pow", challenge)

    def pow_asked(self, second):
        """STRING with a TTL: how many challenges were asked for during this second (epoch s), for the spike rule."""
        return self._key("powrate", second)

    @property
    def cadence(self):
        """HASH: '<user>:n' status polls, '<user>:r' polls exactly at retry_after_s, '<user>:e' polls too soon."""
        return self._key("cadence")

    @property
    def events(self):
        """PUB/SUB channel: comma-separated ids of runners whose place in the race changed (web processes push it)."""
        return self._key("events")

    @property
    def active(self):
        """The set of races with live lines, for the workers' rounds (not race-tagged: it spans races)."""
        return "m:active-races"

    @property
    def active_known(self):
        """Set once the active-races set has been filled from the database; gone means Redis lost its data."""
        return "m:active-races:known"


# what one subscription per web process listens to: every race's events channel
EVENTS_PATTERN = "m:{r*}:events"


def race_of_channel(channel):
    """The race id of an events channel's name ('m:{r12}:events' -> 12)."""
    return int(text(channel).split("{r", 1)[1].split("}", 1)[0])


def text(value):
    """A Redis reply as str (replies are bytes)."""
    return value.decode() if isinstance(value, bytes) else value
