"""perf: api_key_rate_buckets (the per-key rate limit shared by every instance)

Revision ID: 0006_perf
Revises: 0006_authz
Create Date: 2026-12-01 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_perf"
down_revision = "0006_authz"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_key_rate_buckets",
        sa.Column("api_key_id", sa.String(length=40), nullable=False),
        sa.Column("per_minute", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("tokens", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("api_key_id", "per_minute", name=op.f("pk_api_key_rate_buckets")),
    )


def downgrade() -> None:
    op.drop_table("api_key_rate_buckets")
