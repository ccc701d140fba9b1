"""token_version: a per-account counter in every token; bumping it ends every session of the account

Revision ID: 0004_token_version
Revises: 0003_payment
Create Date: 2026-11-28 04:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004_token_version'
down_revision = '0003_payment'
branch_labels = None
depends_on = None


def upgrade():
    # existing accounts start at 0, which is what a token issued before this column carries (no claim = 0)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_version', sa.Integer(), nullable=False, server_default='0'))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('token_version')
