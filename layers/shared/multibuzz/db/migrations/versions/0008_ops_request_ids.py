"""events, conversions: request_id (the API Gateway request id that produced the row)

Revision ID: 0008_ops
Revises: 0007_locale
Create Date: 2026-12-01 19:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_ops"
down_revision = "0008_reports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("events", "conversions"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("request_id", sa.String(length=64), nullable=True))
            batch.create_index(f"ix_{table}_request_id", ["request_id"])


def downgrade() -> None:
    for table in ("events", "conversions"):
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f"ix_{table}_request_id")
            batch.drop_column("request_id")
