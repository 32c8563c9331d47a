"""The fleet registry's tables (SQLAlchemy Core), as the newest migration leaves them.

Times are the controller's epoch seconds (floats); lists and maps are JSON text, as
the SQLite file of qiloop before SQLAlchemy kept them, so such a file needs no rewrite.
Device sequences are 64-bit: an outbox numbers its messages from the clock in microseconds.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Index, Integer, LargeBinary, MetaData, Table, Text

metadata = MetaData()

devices = Table(
    "devices", metadata,
    Column("device_id", Text, primary_key=True),
    Column("groups", Text, nullable=False, server_default="[]"),
    Column("public_key", Text, nullable=False, server_default=""),
    Column("agent_version", Text, nullable=False, server_default=""),
    Column("running", Text, nullable=False, server_default="{}"),
    Column("hello_at", Float),
    Column("report_state", Text),
    Column("report_deployment", Text),
    Column("report_detail", Text),
    Column("report_at", Float),
    Column("status_state", Text),
    Column("status_at", Float),
    Column("seen_at", Float, nullable=False),
)  # fmt: skip

deployment_reports = Table(
    "deployment_reports", metadata,
    Column("device_id", Text, primary_key=True),
    Column("sequence", BigInteger, primary_key=True, autoincrement=False),
    Column("deployment_id", Text, nullable=False),
    Column("target", Text, nullable=False),
    Column("deployment_sequence", BigInteger, nullable=False),
    Column("state", Text, nullable=False),
    Column("detail", Text, nullable=False),
    Column("time", Text, nullable=False),
    Column("received_at", Float, nullable=False),
    Column("bytes_downloaded", BigInteger, nullable=False),
    Column("running", Text, nullable=False),
    Index("reports_deployment", "deployment_id"),
)  # fmt: skip

deployments = Table(
    "deployments", metadata,
    Column("id", Text, primary_key=True),
    Column("target", Text, nullable=False),
    Column("sequence", BigInteger, nullable=False),
    Column("rollout_id", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("signed", Text, nullable=False),
)  # fmt: skip

sequences = Table(
    "sequences", metadata,
    Column("target", Text, primary_key=True),
    Column("sequence", BigInteger, nullable=False),
)  # fmt: skip

rollouts = Table(
    "rollouts", metadata,
    Column("id", Text, primary_key=True),
    Column("target", Text, nullable=False),
    Column("phase", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("data", Text, nullable=False),
)  # fmt: skip

controllers = Table(
    "controllers", metadata,
    Column("name", Text, primary_key=True),
    Column("broker_url", Text, nullable=False),
    Column("files_url", Text, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("heartbeat_at", Float, nullable=False),
)  # fmt: skip

device_keys = Table(
    "device_keys", metadata,
    Column("device_id", Text, primary_key=True),
    Column("public_key", Text, nullable=False),
    Column("key_id", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("added_at", Float, nullable=False),
    Column("hello_sequence", BigInteger),
    Column("status_sequence", BigInteger),
)  # fmt: skip

enroll_tokens = Table(
    "enroll_tokens", metadata,
    Column("digest", Text, primary_key=True),
    Column("device_id", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("used_at", Float),
    Column("key_id", Text),
)  # fmt: skip

pending_devices = Table(
    "pending_devices", metadata,
    Column("device_id", Text, primary_key=True),
    Column("public_key", Text, nullable=False),
    Column("key_id", Text, nullable=False),
    Column("topic", Text, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("seen_at", Float, nullable=False),
)  # fmt: skip
