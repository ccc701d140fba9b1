"""Admission pacing: how many unpaid holds a race may have at once, set by how fast the server serves payments.

Admitting every free place at the opening sends thousands of runners to pay at the same moment; their payments then
queue inside the web tier and short holds run out before they are served. So a race has a window of unpaid holds,
shared among its buckets by demand, and the window follows how long runners take from being told of their hold to
having paid for it (every paid hold gives a sample; a payment that came after its hold ran out counts as the slowest
there is). That time holds everything a runner waits for, the status answer, the order and the confirm, wherever
they queued (even before the server could see them), and a client's own time to pay. The window grows by a quarter
each second while the 90th percentile is under 15% of the hold and the window is in use, and shrinks by 30% while it
is over 35%. A runner's hold
clock starts only when they are told of it (the STATUS script), so a hold lasts its full time from the moment its
runner knows. ADMIT_WINDOW_PER_BUCKET, when set, caps a bucket's share.
"""
import math

from marathon.blueprints.lines.rules import OPENING_WINDOW, opening_window, window_cap
from marathon.core.clock import now, to_ms

# the opening window of a bucket, before any payment has been measured
START_PER_BUCKET = OPENING_WINDOW
# a bucket with runners waiting always has at least this many places in play
MIN_PER_BUCKET = 2
GROW, SHRINK = 1.25, 0.7
# the window grows only while this much of it is in use: a window nobody fills says nothing about a larger one
IN_USE = 0.7
ADJUST_MS = 1000
# runners who pay (p90) within FAST of the hold's time from being told grow the window, beyond SLOW shrink it
FAST, SLOW = 0.15, 0.35


def thresholds(hold_s):
    """(fast, slow): p90 times (ms) from being told of a hold to paying it that grow or shrink the window."""
    hold_ms = max(hold_s, 1) * 1000
    return hold_ms * FAST, hold_ms * SLOW


def percentile(samples, share):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def adjust(window, samples, hold_s, floor, ceiling, in_use=None):
    """The race's next window from the times (ms) runners took from being told to paying since the last adjustment:
    grown by a quarter while their 90th percentile is under FAST of the hold and the window is in use (`in_use`
    unpaid holds, IN_USE of it), shrunk by 30% while it is over SLOW; unchanged without samples. Growth is gentle on
    purpose: samples come only once the runners admitted meanwhile have paid, so a fast growth overshoots."""
    if samples:
        fast, slow = thresholds(hold_s)
        p90 = percentile(samples, 0.9)
        if p90 <= fast and (in_use is None or in_use >= IN_USE * window):
            window *= GROW
        elif p90 > slow:
            window *= SHRINK
    return min(max(window, floor), ceiling)


def demand(capacity, held, confirmed, waiting):
    """How many of a bucket's places are in play: its holds and waiting runners, up to its unpaid places."""
    return max(0, min(waiting + held, capacity - confirmed))


def split(window, demands, caps):
    """Each bucket's share of the race's window, by demand; at least MIN_PER_BUCKET, at most its cap."""
    total = sum(demands.values())
    shares = {}
    for bucket_id, wanted in demands.items():
        share = math.ceil(window * wanted / total) if total else 0
        shares[bucket_id] = min(max(share, MIN_PER_BUCKET), caps[bucket_id])
    return shares


def pace_race(client, keys, hold_s, figures):
    """Adjust the race's window (once a second, whichever worker gets there first) and write each bucket's share into
    its mirror; `figures` maps bucket id -> (capacity, held, confirmed, waiting). Returns the shares."""
    caps = {bucket_id: window_cap(values[0]) for bucket_id, values in figures.items()}
    demands = {bucket_id: demand(*values) for bucket_id, values in figures.items()}
    ceiling = max(sum(caps.values()), 1)
    floor = min(MIN_PER_BUCKET * len(figures), ceiling)
    stored = client.hget(keys.pace, "window")
    window = float(stored) if stored else float(sum(opening_window(values[0]) for values in figures.values()))
    moment = to_ms(now())
    in_use = sum(values[1] for values in figures.values())
    if client.set(keys.lock("pace"), 1, nx=True, px=ADJUST_MS):
        with client.pipeline() as pipe:  # MULTI: the samples are taken once
            pipe.lrange(keys.pay_latency, 0, -1)
            pipe.delete(keys.pay_latency)
            samples = [int(value) for value in pipe.execute()[0]]
        window = adjust(window, samples, hold_s, floor, ceiling, in_use)
        client.hset(keys.pace, mapping={"window": round(window, 1), "adjusted_ms": moment,
                                        "p90_ms": percentile(samples, 0.9) if samples else -1})
    shares = split(window, demands, caps)
    with client.pipeline(transaction=False) as pipe:
        for bucket_id, share in shares.items():
            pipe.hset(keys.bucket(bucket_id), "window", share)
        pipe.execute()
    return shares
