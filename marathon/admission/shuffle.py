"""The lobby shuffle: at the opening, the runners who joined during the lobby go to the head of their lines in an
order fixed by the race's seed (committed to by its SHA-256 at the lobby, revealed at the opening)."""
import hashlib

from marathon.admission.batches import buckets_of
from marathon.blueprints.lines import engine as line
from marathon.blueprints.lines.keys import RaceKeys, text
from marathon.core.clock import now
from marathon.extensions import db


def shuffle_order(seed, line_name, arrivals):
    """The published order of a lobby: arrivals sorted by SHA-256 of 'seed:line:arrival' (hex, ascending)."""
    return sorted(arrivals, key=lambda arrival: hashlib.sha256(f"{seed}:{line_name}:{arrival}".encode()).hexdigest())


def shuffle_lobby(race):
    """At the opening: close the lobby and put its runners at the head of their lines in the seed's order."""
    keys = RaceKeys(race.id)
    buckets = buckets_of(race.id)
    lobbies = line.script("CLOSE_LOBBY")(keys=[keys.sale, *(keys.lobby(b.id) for b in buckets)], args=[])
    for bucket, flat in zip(buckets, lobbies):
        by_arrival = {int(float(flat[i + 1])): text(flat[i]) for i in range(0, len(flat), 2)}
        if by_arrival:
            order = shuffle_order(race.shuffle_seed, bucket.line, by_arrival)
            line.script("PLACE_LOBBY")(
                keys=[keys.line(bucket.id), keys.lobby(bucket.id), keys.who], args=[by_arrival[a] for a in order]
            )
    race.shuffled_at = now()
    db.session.commit()
