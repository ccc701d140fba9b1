"""The ballot's draw: each bucket's entries ordered by a published function of the race's seed, which the race
committed to (SHA-256 of the seed) when it was created, before the ballot opened.

Anyone can recompute a draw from GET /api/v1/races/{race}/draw alone:
  order   = a bucket's entry ids sorted by SHA-256(f"{seed}:{line}:{entry_id}") as lowercase hex, ascending
            (the lobby shuffle's function, marathon.admission.shuffle.shuffle_order, with entry ids for arrivals)
  digest  = SHA-256 of every drawn entry id of the race in ascending numeric order, as decimal, joined by ","
  check   = SHA-256(seed) == commitment
The first `capacity` entries of a bucket's order win; the rest are its reserve, offered places in that order.
"""
import hashlib

from sqlalchemy import bindparam, select, update

from marathon.admission.batches import buckets_of
from marathon.admission.shuffle import shuffle_order
from marathon.blueprints.lines.models import BallotEntry
from marathon.blueprints.races.models import Race
from marathon.core.clock import now
from marathon.extensions import db


def draw_order(seed, line_name, entry_ids):
    """A bucket's draw order: entry ids sorted by SHA-256 of 'seed:line:entry_id' (hex, ascending)."""
    return shuffle_order(seed, line_name, entry_ids)


def entries_digest(entry_ids):
    """SHA-256 (hex) of the entry ids in ascending order, as decimal numbers joined by ','."""
    return hashlib.sha256(",".join(str(entry_id) for entry_id in sorted(entry_ids)).encode()).hexdigest()


def draw(race_id):
    """Rank every entry of the race's ballot (idempotent: a drawn race is left as it is); returns whether it drew.
    The offers to the winners are made by marathon.admission.offers in the same round."""
    race = db.session.execute(
        select(Race).filter_by(id=race_id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one()
    if race.sale_mode != "ballot" or race.drawn_at is not None:
        db.session.rollback()
        return False
    entries = db.session.execute(
        select(BallotEntry.id, BallotEntry.bucket_id).where(BallotEntry.race_id == race_id,
                                                            BallotEntry.status == "entered")
    ).all()
    by_bucket = {}
    for entry_id, bucket_id in entries:
        by_bucket.setdefault(bucket_id, []).append(entry_id)
    ranks = []
    for bucket in buckets_of(race_id):
        order = draw_order(race.ballot_seed, bucket.line, by_bucket.get(bucket.id, []))
        ranks += [{"entry": entry_id, "place": rank} for rank, entry_id in enumerate(order, start=1)]
    if ranks:
        entries_table = BallotEntry.__table__
        db.session.execute(update(entries_table).where(entries_table.c.id == bindparam("entry"))
                           .values(status="drawn", rank=bindparam("place")), ranks)
    race.entries_digest = entries_digest([entry_id for entry_id, _bucket in entries])
    race.drawn_at = now()
    db.session.commit()
    return True
