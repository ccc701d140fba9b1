"""Stand-ins for `flask seed runners` and `flask race create`, used by bench/rush.py only while the app lacks them.
Usage: python bench/fallback.py seed COUNT OUT | python bench/fallback.py race SPEC.json"""
import hashlib
import json
import secrets
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_jwt_extended import create_access_token  # noqa: E402

from marathon import create_app  # noqa: E402
from marathon.blueprints.auth.models import User  # noqa: E402
from marathon.blueprints.auth.services import identity_hash  # noqa: E402
from marathon.blueprints.lines import engine as line  # noqa: E402
from marathon.blueprints.races.models import Course, PaceGroup, Race  # noqa: E402
from marathon.core.clock import now  # noqa: E402
from marathon.extensions import db  # noqa: E402

BATCH = 2000


def seed_runners(count, out):
    """COUNT runner accounts sharing one (unusable) password hash, and one JSON line per runner with a 6 h token."""
    tag = secrets.token_hex(3)
    born = date(1990, 1, 1)
    with open(out, "w", encoding="utf-8") as sink:
        for first in range(0, count, BATCH):
            rows = []
            for number in range(first, min(first + BATCH, count)):
                name, phone = f"Bench Runner {tag} {number}", f"010{number:08d}"
                rows.append({"email": f"bench-{tag}-{number}@seed.example.com", "password_hash": "unusable",
                             "name": name, "birth_date": born, "phone": phone, "roles": "runner",
                             "identity_hash": identity_hash(name, born, phone), "created_at": now()})
            ids = db.session.execute(User.__table__.insert().returning(User.id, User.email), rows).all()
            db.session.commit()
            for user_id, email in sorted(ids):
                token = create_access_token(identity=str(user_id), additional_claims={"roles": ["runner"]},
                                            expires_delta=timedelta(hours=6))
                sink.write(json.dumps({"email": email, "access_token": token}) + "\n")


def create_race(spec):
    """The race of a spec (already valid: bench/race.yaml), published to Redis; returns its id."""
    seed = secrets.token_hex(32)
    when = {key: datetime.fromisoformat(spec[key]) for key in ("sale_opens_at", "sale_closes_at", "refund_until")}
    race = Race(slug=spec["slug"], name=spec["name"], date=date.fromisoformat(spec["date"]),
                lobby_minutes=spec["lobby_minutes"], hold_seconds=spec["hold_seconds"],
                pow_difficulty=spec["pow_difficulty"], transfer_until=when["refund_until"], shuffle_seed=seed,
                shuffle_commitment=hashlib.sha256(seed.encode()).hexdigest(), **when)
    db.session.add(race)
    db.session.flush()
    for index, spec_course in enumerate(spec["courses"]):
        start = 1 + 10000 * index
        course = Course(code=spec_course["code"], name=spec_course["name"], distance_km=spec_course["distance_km"],
                        price=spec_course["price"], bib_start=start, bib_end=start + 10000, next_bib=start)
        race.courses.append(course)
        course.pace_groups.extend(PaceGroup(race_id=race.id, **group) for group in spec_course["pace_groups"])
    db.session.commit()
    line.publish_race(race)
    return race.id


def main(argv):
    app = create_app()
    with app.app_context():
        if argv[0] == "seed":
            seed_runners(int(argv[1]), argv[2])
        elif argv[0] == "race":
            print(create_race(json.loads(Path(argv[1]).read_text())))
        else:
            raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
