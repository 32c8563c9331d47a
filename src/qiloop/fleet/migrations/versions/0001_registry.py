"""The fleet registry: devices, reports, deployments, sequences, rollouts, controllers, keys, enrollment.

Revision ID: 0001
Revises:
Create Date: 2026-12-03

A ``fleet.db`` made before migrations existed holds some or all of these tables
(created by one ``CREATE TABLE IF NOT EXISTS`` script that grew over time): this
revision creates only the missing ones and adds the columns an older file lacks
(``device_keys.hello_sequence``), so its rows stay as they are.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Col = sa.Column
TABLES = {
    "devices": lambda: [
        Col("device_id", sa.Text(), primary_key=True),
        Col("groups", sa.Text(), nullable=False, server_default="[]"),
        Col("public_key", sa.Text(), nullable=False, server_default=""),
        Col("agent_version", sa.Text(), nullable=False, server_default=""),
        Col("running", sa.Text(), nullable=False, server_default="{}"),
        Col("hello_at", sa.Float()), Col("report_state", sa.Text()), Col("report_deployment", sa.Text()),
        Col("report_detail", sa.Text()), Col("report_at", sa.Float()), Col("status_state", sa.Text()),
        Col("status_at", sa.Float()), Col("seen_at", sa.Float(), nullable=False),
    ],
    "deployment_reports": lambda: [
        Col("device_id", sa.Text(), primary_key=True),
        Col("sequence", sa.BigInteger(), primary_key=True, autoincrement=False),
        Col("deployment_id", sa.Text(), nullable=False), Col("target", sa.Text(), nullable=False),
        Col("deployment_sequence", sa.BigInteger(), nullable=False), Col("state", sa.Text(), nullable=False),
        Col("detail", sa.Text(), nullable=False), Col("time", sa.Text(), nullable=False),
        Col("received_at", sa.Float(), nullable=False), Col("bytes_downloaded", sa.BigInteger(), nullable=False),
        Col("running", sa.Text(), nullable=False),
    ],
    "deployments": lambda: [
        Col("id", sa.Text(), primary_key=True), Col("target", sa.Text(), nullable=False),
        Col("sequence", sa.BigInteger(), nullable=False), Col("rollout_id", sa.Text(), nullable=False),
        Col("role", sa.Text(), nullable=False), Col("created_at", sa.Float(), nullable=False),
        Col("signed", sa.Text(), nullable=False),
    ],
    "sequences": lambda: [
        Col("target", sa.Text(), primary_key=True), Col("sequence", sa.BigInteger(), nullable=False),
    ],
    "rollouts": lambda: [
        Col("id", sa.Text(), primary_key=True), Col("target", sa.Text(), nullable=False),
        Col("phase", sa.Text(), nullable=False), Col("created_at", sa.Float(), nullable=False),
        Col("updated_at", sa.Float(), nullable=False), Col("data", sa.Text(), nullable=False),
    ],
    "controllers": lambda: [
        Col("name", sa.Text(), primary_key=True), Col("broker_url", sa.Text(), nullable=False),
        Col("files_url", sa.Text(), nullable=False), Col("pid", sa.Integer(), nullable=False),
        Col("heartbeat_at", sa.Float(), nullable=False),
    ],
    "device_keys": lambda: [
        Col("device_id", sa.Text(), primary_key=True), Col("public_key", sa.Text(), nullable=False),
        Col("key_id", sa.Text(), nullable=False), Col("source", sa.Text(), nullable=False),
        Col("added_at", sa.Float(), nullable=False), Col("hello_sequence", sa.BigInteger()),
        Col("status_sequence", sa.BigInteger()),
    ],
    "enroll_tokens": lambda: [
        Col("digest", sa.Text(), primary_key=True), Col("device_id", sa.Text(), nullable=False),
        Col("created_at", sa.Float(), nullable=False), Col("expires_at", sa.Float(), nullable=False),
        Col("used_at", sa.Float()), Col("key_id", sa.Text()),
    ],
    "pending_devices": lambda: [
        Col("device_id", sa.Text(), primary_key=True), Col("public_key", sa.Text(), nullable=False),
        Col("key_id", sa.Text(), nullable=False), Col("topic", sa.Text(), nullable=False),
        Col("payload", sa.LargeBinary(), nullable=False), Col("seen_at", sa.Float(), nullable=False),
    ],
}  # fmt: skip


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    existing = set(inspector.get_table_names())
    for name, columns in TABLES.items():
        if name not in existing:
            op.create_table(name, *columns())
            continue
        have = {c["name"] for c in inspector.get_columns(name)}
        for column in columns():
            if column.name not in have:  # a file from before the column existed (always nullable then)
                op.add_column(name, column)
    if "reports_deployment" not in {i["name"] for i in inspector.get_indexes("deployment_reports")}:
        op.create_index("reports_deployment", "deployment_reports", ["deployment_id"])


def downgrade() -> None:
    op.drop_index("reports_deployment", table_name="deployment_reports")
    for name in reversed(TABLES):
        op.drop_table(name)
