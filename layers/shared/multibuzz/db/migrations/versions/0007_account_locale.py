"""accounts: timezone and currency (the day boundaries and the currency of reports and aggregates)

Revision ID: 0007_locale
Revises: 0006_perf
Create Date: 2026-12-01 19:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_locale"
down_revision = "0006_perf"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False))
        batch.add_column(sa.Column("currency", sa.String(length=3), server_default="USD", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("currency")
        batch.drop_column("timezone")
