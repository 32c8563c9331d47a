"""The columns of the fleet's results and status tables, and rows from device messages (pure).

Both tables are partitioned by ``day`` (the device's UTC date, ``YYYY-MM-DD``), so a
query over a time range reads only the days it names and old days can be dropped
whole. The filterable fields are columns; ``payload`` keeps the message exactly
as it arrived, so a stored result reads back as the device's own
:class:`~qiloop.protocol.messages.InferenceResult`.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import pyarrow as pa

from qiloop.protocol.messages import DeviceStatus, InferenceResult

TIMESTAMP = pa.timestamp("us", tz="UTC")

RESULT_SCHEMA = pa.schema(
    [
        ("day", pa.string()),
        ("time", TIMESTAMP),
        ("received_at", TIMESTAMP),
        ("device_id", pa.string()),
        ("sequence", pa.int64()),
        ("image_name", pa.string()),
        ("image_sha256", pa.string()),
        ("model_name", pa.string()),
        ("model_version", pa.string()),
        ("verdict", pa.string()),
        ("n_detections", pa.int32()),
        ("max_score", pa.float32()),
        ("latency_ms", pa.float64()),
        ("payload", pa.string()),
    ]
)

STATUS_SCHEMA = pa.schema(
    [
        ("day", pa.string()),
        ("time", TIMESTAMP),
        ("received_at", TIMESTAMP),
        ("device_id", pa.string()),
        ("sequence", pa.int64()),
        ("state", pa.string()),
        ("model_name", pa.string()),
        ("model_version", pa.string()),
        ("images_processed", pa.int64()),
        ("defects", pa.int64()),
        ("defect_rate", pa.float64()),
        ("latency_p50_ms", pa.float64()),
        ("latency_p95_ms", pa.float64()),
        ("outbox_depth", pa.int64()),
        ("outbox_dropped", pa.int64()),
        ("payload", pa.string()),
    ]
)

SCHEMAS = {"results": RESULT_SCHEMA, "status": STATUS_SCHEMA}


def utc(value: datetime) -> datetime:
    """``value`` in UTC (a naive time is taken as UTC)."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def day_of(value: datetime | date) -> str:
    """The partition a time falls in: its UTC date as ``YYYY-MM-DD``."""
    return (utc(value).date() if isinstance(value, datetime) else value).isoformat()


def result_row(result: InferenceResult, received_at: datetime) -> dict:
    """The results-table row of one result (``payload`` is the message as JSON)."""
    scores = [d.score for d in result.detections]
    return {
        "day": day_of(result.time),
        "time": utc(result.time),
        "received_at": utc(received_at),
        "device_id": result.device_id,
        "sequence": result.sequence,
        "image_name": result.image_name,
        "image_sha256": result.image_sha256,
        "model_name": result.model_name,
        "model_version": result.model_version,
        "verdict": result.verdict,
        "n_detections": len(scores),
        "max_score": max(scores) if scores else None,
        "latency_ms": result.latency_ms,
        "payload": result.model_dump_json(),
    }


def status_row(status: DeviceStatus, received_at: datetime) -> dict:
    """The status-table row of one status report."""
    return {
        "day": day_of(status.time),
        "time": utc(status.time),
        "received_at": utc(received_at),
        "device_id": status.device_id,
        "sequence": status.sequence,
        "state": status.state,
        "model_name": status.model_name,
        "model_version": status.model_version,
        "images_processed": status.images_processed,
        "defects": status.defects,
        "defect_rate": status.defect_rate,
        "latency_p50_ms": status.latency_p50_ms,
        "latency_p95_ms": status.latency_p95_ms,
        "outbox_depth": status.outbox_depth,
        "outbox_dropped": status.outbox_dropped,
        "payload": status.model_dump_json(),
    }


def to_table(kind: str, rows: list[dict]) -> pa.Table:
    """Rows of ``kind`` (``results`` or ``status``) as an Arrow table in that kind's schema."""
    return pa.Table.from_pylist(rows, schema=SCHEMAS[kind])
