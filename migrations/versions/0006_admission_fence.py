"""pace_groups.fence: the fencing token of the last admission committed for a bucket (marathon.admission.lease)

Revision ID: 0006_admission_fence
Revises: 0005_identity_skeleton
Create Date: 2026-11-28 05:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006_admission_fence'
down_revision = '0005_identity_skeleton'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('pace_groups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fence', sa.BigInteger(), nullable=False, server_default='0'))


def downgrade():
    with op.batch_alter_table('pace_groups', schema=None) as batch_op:
        batch_op.drop_column('fence')
