"""Sale modes: where a race's mode is chosen and what each mode does at the opening and in every round.

A new mode is one more entry here, plus its routes; admission batches, the journal and the lines keep working as
they are. The ballot (marathon.admission.ballot) draws at `ballot_closes_at` and fills its buckets by offers
(marathon.admission.offers) instead of a line; waitlist offers after a sell-out run in every mode.
"""
from marathon.admission import ballot, offers, shuffle
from marathon.admission.batches import race_of
from marathon.core.clock import now

FIRST_COME = "first_come"
LOBBY_SHUFFLE = "lobby_shuffle"
BALLOT = "ballot"


def sale_mode(race):
    """The race's sale mode: a ballot when its spec says so; else joins during a lobby are shuffled at the opening;
    without a lobby, first come first served."""
    if race.sale_mode == BALLOT:
        return BALLOT
    return LOBBY_SHUFFLE if race.lobby_minutes > 0 else FIRST_COME


# what the race's round does once at the opening, before anyone is admitted; closing the lobby (empty for first come
# and for a ballot, whose line takes no joins) marks the race as opened, which is what lets admission start
OPENINGS = {
    FIRST_COME: shuffle.shuffle_lobby,
    LOBBY_SHUFFLE: shuffle.shuffle_lobby,
    BALLOT: shuffle.shuffle_lobby,
}


def open_sale(race):
    """Run the race's opening for its sale mode."""
    OPENINGS[sale_mode(race)](race)


def line_admits(race):
    """Whether the race's lines admit runners at all (a ballot's places go by offers only)."""
    return sale_mode(race) != BALLOT


def make_offers(race):
    """The round's offers: a ballot is drawn once its window closes (by the calendar), then its places are offered
    in draw order; a sold-out bucket's freed places go to its waitlist. Returns how many offers were made."""
    if sale_mode(race) == BALLOT and race.drawn_at is None and now() >= race.ballot_closes_at:
        ballot.draw(race.id)
        race = race_of(race.id)
    return offers.offer_places(race)
