"""Group commit: the units of one moment share one transaction and one commit, and each gets its own answer."""
import gevent
import pytest
from sqlalchemy import event, select, text

from marathon.blueprints.auth.models import User
from marathon.core.group_commit import GroupCommit
from marathon.extensions import db


def _commits(app):
    counted = []
    with app.app_context():
        event.listen(db.engine, "commit", lambda _conn: counted.append(1))
    return counted


def test_units_of_one_moment_are_committed_together_each_with_its_answer(app, users):
    ids = [users.signup()["id"] for _ in range(4)]
    group, commits = GroupCommit(enabled=True), _commits(app)

    def rename(user_id):
        with app.app_context():
            def unit():
                db.session.execute(text("UPDATE users SET name = :n WHERE id = :i"), {"n": f"Renamed {user_id}", "i": user_id})
                return user_id * 10
            return group.run(unit)

    answers = [greenlet.value for greenlet in gevent.joinall([gevent.spawn(rename, user_id) for user_id in ids])]
    assert answers == [user_id * 10 for user_id in ids]
    assert len(commits) == 1
    with app.app_context():
        assert db.session.execute(select(User.name).order_by(User.id)).scalars().all() == [f"Renamed {i}" for i in ids]


def test_a_failing_unit_fails_alone(app, users):
    ids = [users.signup()["id"] for _ in range(3)]
    group = GroupCommit(enabled=True)

    def rename(user_id):
        with app.app_context():
            def unit():
                if user_id == ids[1]:
                    raise ValueError("this one is refused")
                db.session.execute(text("UPDATE users SET name = :n WHERE id = :i"), {"n": "Kept", "i": user_id})
                return user_id
            return group.run(unit)

    greenlets = [gevent.spawn(rename, user_id) for user_id in ids]
    gevent.joinall(greenlets)
    assert [g.value for g in greenlets] == [ids[0], None, ids[2]]
    with pytest.raises(ValueError):
        greenlets[1].get()
    with app.app_context():
        names = dict(db.session.execute(select(User.id, User.name)).all())
    assert names[ids[0]] == names[ids[2]] == "Kept" and names[ids[1]] != "Kept"
