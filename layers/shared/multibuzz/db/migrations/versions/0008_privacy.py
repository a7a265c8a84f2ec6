"""privacy: privacy_requests (erasure and access-request audit records, keyed hash of the subject only)

Revision ID: 0008_privacy
Revises: 0007_locale
Create Date: 2026-12-01 19:40:00
"""

from __future__ import annotations

import multibuzz.db.base
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0008_privacy"
down_revision = "0008_commerce"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(mysql.JSON(), "mariadb").with_variant(mysql.JSON(), "mysql")


def upgrade() -> None:
    op.create_table(
        "privacy_requests",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("subject_type", sa.String(length=20), nullable=False),
        sa.Column("subject_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("requested_by", sa.String(length=80), nullable=True),
        sa.Column("counts", _JSON, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", multibuzz.db.base.UTCDateTime(), nullable=False),
        sa.Column("completed_at", multibuzz.db.base.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_privacy_requests_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_requests")),
    )
    op.create_index(
        "ix_privacy_requests_account_id_created_at", "privacy_requests", ["account_id", "created_at"], unique=False
    )
    op.create_index(
        "ix_privacy_requests_account_id_subject_hash", "privacy_requests", ["account_id", "subject_hash"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_privacy_requests_account_id_subject_hash", table_name="privacy_requests")
    op.drop_index("ix_privacy_requests_account_id_created_at", table_name="privacy_requests")
    op.drop_table("privacy_requests")
