"""Group commit: units of database work arriving at the same moment (greenlets of one gevent worker) committed in one
transaction, each still getting its own answer.

The first unit to arrive leads: it yields once so that the others of that moment join, then runs every unit's
statements on its own session and commits once. Should any unit fail, the batch is rolled back and every unit is run
again on its own, in its own transaction, so one unit's error is that unit's alone. Outside gevent (tests, the CLI)
a unit simply runs and commits.
"""
import logging

from marathon.extensions import db

log = logging.getLogger(__name__)


def _under_gevent():
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover - gevent is a dependency
        return False
    return monkey.is_module_patched("socket")


class GroupCommit:
    """`run(unit)` runs `unit()` (statements, no commit) and commits it, together with the units of the same moment."""

    def __init__(self, enabled=None, max_batch=200):
        self.enabled = _under_gevent() if enabled is None else enabled
        self.max_batch = max_batch
        self.batch = None

    def run(self, unit):
        if not self.enabled:
            return self._alone(unit)
        from gevent import sleep
        from gevent.event import AsyncResult

        if self.batch is not None and len(self.batch) < self.max_batch:
            answer = AsyncResult()
            self.batch.append((unit, answer))
            return answer.get()
        mine = AsyncResult()
        batch = self.batch = [(unit, mine)]
        sleep(0)  # the others of this moment join the batch
        self.batch = None
        self._commit(batch)
        return mine.get()

    def _commit(self, batch):
        try:
            results = [unit() for unit, _answer in batch]
            db.session.commit()
        except Exception as error:
            db.session.rollback()
            if len(batch) == 1:
                batch[0][1].set_exception(error)
                return
            log.warning("a group commit of %d failed: each is run on its own", len(batch), exc_info=True)
            for unit, answer in batch:
                self._settle(answer, unit)
            return
        for (_unit, answer), result in zip(batch, results):
            answer.set(result)

    def _settle(self, answer, unit):
        try:
            answer.set(self._alone(unit))
        except Exception as error:  # the unit's own error, raised in its own greenlet
            answer.set_exception(error)

    @staticmethod
    def _alone(unit):
        try:
            result = unit()
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
        return result
