"""authz: invitations, password resets, login throttles, API-key scopes, token generation

Revision ID: 0006_authz
Revises: 0005
Create Date: 2026-12-01 15:50:00
"""

from __future__ import annotations

import multibuzz.db.base
import sqlalchemy as sa
from alembic import op

revision = "0006_authz"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "invitations",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("influencer_id", sa.String(length=40), nullable=True),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("invited_by", sa.String(length=40), nullable=True),
        sa.Column("created_at", multibuzz.db.base.UTCDateTime(), nullable=False),
        sa.Column("expires_at", multibuzz.db.base.UTCDateTime(), nullable=False),
        sa.Column("accepted_at", multibuzz.db.base.UTCDateTime(), nullable=True),
        sa.Column("accepted_by", sa.String(length=40), nullable=True),
        sa.Column("revoked_at", multibuzz.db.base.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_invitations_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_invitations_token_digest")),
    )
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.create_index("ix_invitations_account_id_created_at", ["account_id", "created_at"], unique=False)

    op.create_table(
        "password_resets",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", multibuzz.db.base.UTCDateTime(), nullable=False),
        sa.Column("expires_at", multibuzz.db.base.UTCDateTime(), nullable=False),
        sa.Column("used_at", multibuzz.db.base.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_password_resets_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_resets")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_password_resets_token_digest")),
    )
    with op.batch_alter_table("password_resets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_password_resets_user_id"), ["user_id"], unique=False)

    op.create_table(
        "login_throttles",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", multibuzz.db.base.UTCDateTime(), nullable=False),
        sa.Column("locked_until", multibuzz.db.base.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttles")),
    )

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_generation", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scopes", sa.String(length=100), server_default="ingest", nullable=False))
    # Keys made before scopes existed could read conversions with the SDK: they keep that (ingest + read).
    # Reports, listings and refits are JWT-only whatever the key's scopes.
    op.execute("UPDATE api_keys SET scopes = 'ingest read'")


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("scopes")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("token_generation")
    op.drop_table("login_throttles")
    with op.batch_alter_table("password_resets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_password_resets_user_id"))
    op.drop_table("password_resets")
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_index("ix_invitations_account_id_created_at")
    op.drop_table("invitations")
