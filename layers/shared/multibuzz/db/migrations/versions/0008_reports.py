"""reports: rollups (daily, hourly), stale-bucket tracking, commission rules

Revision ID: 0008_reports
Revises: 0007_locale
Create Date: 2026-12-01 19:45:00
"""

from __future__ import annotations

import multibuzz.db.base
import sqlalchemy as sa
from alembic import op

revision = "0008_reports"
down_revision = "0008_exports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_rollups",
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("grain", sa.String(length=4), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("dimension", sa.String(length=12), nullable=False),
        sa.Column("dim_value", sa.String(length=90), nullable=False),
        sa.Column("metric", sa.String(length=20), nullable=False),
        sa.Column("sub_key", sa.String(length=200), nullable=False),
        sa.Column("value", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_report_rollups_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint(
            "account_id",
            "grain",
            "dimension",
            "metric",
            "day",
            "hour",
            "dim_value",
            "sub_key",
            name=op.f("pk_report_rollups"),
        ),
    )
    with op.batch_alter_table("report_rollups", schema=None) as batch_op:
        batch_op.create_index("ix_report_rollups_account_id_day", ["account_id", "day"], unique=False)
    op.create_table(
        "report_buckets",
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("built_generation", sa.Integer(), nullable=False),
        sa.Column("built_at", multibuzz.db.base.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_report_buckets_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("account_id", "day", name=op.f("pk_report_buckets")),
    )
    op.create_table(
        "commission_rules",
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("campaign_id", sa.String(length=40), nullable=False),
        sa.Column("influencer_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("value", sa.Numeric(precision=18, scale=6), nullable=False),
        sa.Column("updated_at", multibuzz.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_commission_rules_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_commission_rules_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "campaign_id", "influencer_id", name=op.f("pk_commission_rules")),
    )


def downgrade() -> None:
    op.drop_table("commission_rules")
    op.drop_table("report_buckets")
    with op.batch_alter_table("report_rollups", schema=None) as batch_op:
        batch_op.drop_index("ix_report_rollups_account_id_day")
    op.drop_table("report_rollups")
