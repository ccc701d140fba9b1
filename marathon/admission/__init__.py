"""The worker side of a sale: the pacemaker, admission batches, the journal, the lobby shuffle, sale modes."""
