"""Sale modes: where a race's mode is chosen and what each mode does at the opening.

A new mode (a ballot) is one more entry here, plus its routes; admission batches, the journal and the lines keep
working as they are.
"""
from marathon.admission import shuffle

FIRST_COME = "first_come"
LOBBY_SHUFFLE = "lobby_shuffle"


def sale_mode(race):
    """The race's sale mode: joins during a lobby are shuffled at the opening; without a lobby, first come first
    served."""
    return LOBBY_SHUFFLE if race.lobby_minutes > 0 else FIRST_COME


# what the race's round does once at the opening, before anyone is admitted; closing the lobby (empty for first come)
# marks the race as opened, which is what lets admission start
OPENINGS = {
    FIRST_COME: shuffle.shuffle_lobby,
    LOBBY_SHUFFLE: shuffle.shuffle_lobby,
}


def open_sale(race):
    """Run the race's opening for its sale mode."""
    OPENINGS[sale_mode(race)](race)
