"""ballot and waitlist: a race's sale mode and draw, ballot entries, waitlist seats, how a hold was won

Revision ID: 0007_ballot_waitlist
Revises: 0006_admission_fence
Create Date: 2026-11-28 05:30:00

"""
from alembic import op
import sqlalchemy as sa
import marathon.core.types

# revision identifiers, used by Alembic.
revision = '0007_ballot_waitlist'
down_revision = '0006_admission_fence'
branch_labels = None
depends_on = None

UTC = marathon.core.types.UTCDateTime


def upgrade():
    with op.batch_alter_table('races', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sale_mode', sa.String(length=12), nullable=False,
                                      server_default='first_come'))
        batch_op.add_column(sa.Column('ballot_opens_at', UTC(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('ballot_closes_at', UTC(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('offer_hours', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('ballot_seed', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('ballot_commitment', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('entries_digest', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('drawn_at', UTC(timezone=True), nullable=True))
    with op.batch_alter_table('pace_groups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sold_out_at', UTC(timezone=True), nullable=True))
    with op.batch_alter_table('holds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=10), nullable=False, server_default='line'))

    op.create_table(
        'ballot_entries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('race_id', sa.Integer(), nullable=False),
        sa.Column('bucket_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('rank', sa.Integer(), nullable=True),
        sa.Column('hold_id', sa.Integer(), nullable=True),
        sa.Column('entered_at', UTC(timezone=True), nullable=False),
        sa.Column('ip', sa.String(length=45), nullable=True),
        sa.ForeignKeyConstraint(['race_id'], ['races.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['bucket_id'], ['pace_groups.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id']),
        sa.ForeignKeyConstraint(['hold_id'], ['holds.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    entered = sa.text("status <> 'withdrawn'")
    op.create_index('uq_ballot_entries_person', 'ballot_entries', ['race_id', 'user_id'], unique=True,
                    sqlite_where=entered, postgresql_where=entered)
    op.create_index('ix_ballot_entries_bucket_rank', 'ballot_entries', ['bucket_id', 'rank'], unique=False)

    op.create_table(
        'waitlist_seats',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('race_id', sa.Integer(), nullable=False),
        sa.Column('bucket_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('hold_id', sa.Integer(), nullable=True),
        sa.Column('joined_at', UTC(timezone=True), nullable=False),
        sa.Column('left_at', UTC(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['race_id'], ['races.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['bucket_id'], ['pace_groups.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id']),
        sa.ForeignKeyConstraint(['hold_id'], ['holds.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    seated = sa.text("status IN ('waiting', 'offered')")
    op.create_index('uq_waitlist_seats_person', 'waitlist_seats', ['race_id', 'user_id'], unique=True,
                    sqlite_where=seated, postgresql_where=seated)
    op.create_index('ix_waitlist_seats_bucket', 'waitlist_seats', ['bucket_id', 'status', 'id'], unique=False)


def downgrade():
    op.drop_index('ix_waitlist_seats_bucket', table_name='waitlist_seats')
    op.drop_index('uq_waitlist_seats_person', table_name='waitlist_seats')
    op.drop_table('waitlist_seats')
    op.drop_index('ix_ballot_entries_bucket_rank', table_name='ballot_entries')
    op.drop_index('uq_ballot_entries_person', table_name='ballot_entries')
    op.drop_table('ballot_entries')
    with op.batch_alter_table('holds', schema=None) as batch_op:
        batch_op.drop_column('source')
    with op.batch_alter_table('pace_groups', schema=None) as batch_op:
        batch_op.drop_column('sold_out_at')
    with op.batch_alter_table('races', schema=None) as batch_op:
        for column in ('drawn_at', 'entries_digest', 'ballot_commitment', 'ballot_seed', 'offer_hours',
                       'ballot_closes_at', 'ballot_opens_at', 'sale_mode'):
            batch_op.drop_column(column)
