"""Failed password checks, counted per username and per client address to throttle guessing.

Revision ID: 0003
Revises: 0002
Create Date: 2024-07-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("failed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_login_failures_client", "login_failures", ["client", "failed_at"], unique=False)
    op.create_index("ix_login_failures_failed_at", "login_failures", ["failed_at"], unique=False)
    op.create_index("ix_login_failures_username", "login_failures", ["username", "failed_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_login_failures_username", table_name="login_failures")
    op.drop_index("ix_login_failures_failed_at", table_name="login_failures")
    op.drop_index("ix_login_failures_client", table_name="login_failures")
    op.drop_table("login_failures")
