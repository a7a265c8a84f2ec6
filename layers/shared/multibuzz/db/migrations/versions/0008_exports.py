"""exports: requested exports, their progress, object keys and expiry

Revision ID: 0008_exports
Revises: 0007_locale
Create Date: 2026-12-01 19:40:00
"""

from __future__ import annotations

import multibuzz.db.base
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0008_exports"
down_revision = "0008_privacy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exports",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("dataset", sa.String(length=40), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("gzip", sa.Boolean(), nullable=False),
        sa.Column("range_start", multibuzz.db.base.UTCDateTime(), nullable=False),
        sa.Column("range_end", multibuzz.db.base.UTCDateTime(), nullable=False),
        sa.Column("model", sa.String(length=30), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("object_key", sa.String(length=255), nullable=False),
        sa.Column("manifest_key", sa.String(length=255), nullable=False),
        sa.Column("upload_id", sa.String(length=1024), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "columns",
            sa.JSON().with_variant(mysql.JSON(), "mariadb").with_variant(mysql.JSON(), "mysql"),
            nullable=False,
        ),
        sa.Column("created_at", multibuzz.db.base.UTCDateTime(), nullable=False),
        sa.Column("started_at", multibuzz.db.base.UTCDateTime(), nullable=True),
        sa.Column("finished_at", multibuzz.db.base.UTCDateTime(), nullable=True),
        sa.Column("expires_at", multibuzz.db.base.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_exports_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exports")),
    )
    op.create_index("ix_exports_account_id_created_at", "exports", ["account_id", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_exports_account_id_created_at", table_name="exports")
    op.drop_table("exports")
