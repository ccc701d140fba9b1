"""identity skeleton: phones in E.164 and identity hashes of folded names, recomputed from the stored values

The identity hash now folds invisible characters, accents and look-alike letters out of the name and writes the phone
in E.164 (marathon.blueprints.auth.identity). The raw name, birth date and phone are stored beside the hash, so
every account's hash is recomputed here with the app's SECRET_KEY (run `flask db upgrade` with production's key).
Accounts that the new rule finds to be one person keep their old hash (the unique index holds) and are listed in
the log for a review with `flask fairplay suspects`.

Revision ID: 0005_identity_skeleton
Revises: 0004_token_version
Create Date: 2026-11-28 05:00:00

"""
import logging

import sqlalchemy as sa
from alembic import op
from flask import current_app

from marathon.blueprints.auth.identity import identity_hash, normalise_phone

# revision identifiers, used by Alembic.
revision = '0005_identity_skeleton'
down_revision = '0004_token_version'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")
USERS = sa.table("users", sa.column("id", sa.Integer), sa.column("name", sa.String), sa.column("birth_date", sa.Date),
                 sa.column("phone", sa.String), sa.column("identity_hash", sa.String))


def upgrade():
    connection = op.get_bind()
    key = current_app.config["SECRET_KEY"]
    rows = connection.execute(sa.select(USERS).order_by(USERS.c.id)).all()
    taken = {row.identity_hash for row in rows}
    same_person = []
    for row in rows:
        phone = normalise_phone(row.phone)
        person = identity_hash(row.name, row.birth_date, row.phone, key)
        if person != row.identity_hash:
            if person in taken:
                same_person.append(row.id)
                person = row.identity_hash
            else:
                taken.discard(row.identity_hash)
                taken.add(person)
        if person != row.identity_hash or phone != row.phone:
            connection.execute(sa.update(USERS).where(USERS.c.id == row.id)
                               .values(identity_hash=person, phone=phone[:20]))
    if same_person:
        log.warning("accounts that are another account's person under the new identity rule (kept): %s",
                    ", ".join(map(str, same_person)))


def downgrade():
    # the old hashes cannot be told from the new ones without the old rule: they stay (signups compare new ones)
    pass
