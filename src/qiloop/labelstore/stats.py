"""Summary counts of the label store, for ``qiloop labels stats`` and dashboards."""

from __future__ import annotations

import polars as pl
from deltalake import DeltaTable

from qiloop.labelstore import delta, query
from qiloop.labelstore.delta import VersionInfo

_COLUMNS = [*query.RANK_COLUMNS, "labeling_job", "annotations"]


def summarise(table: DeltaTable | None, versions: list[VersionInfo]) -> dict:
    """Counts over the current version.

    Returns:
        ``records`` (distinct record ids), ``images``, ``latest_status`` (images by the
        status of their latest record), ``boxes`` (in the latest APPROVED records: what
        training sees), ``versions``, ``version`` (current, ``None`` when empty) and
        ``jobs`` (records per labelling job, ``""`` for none).
    """
    if table is None:
        return {"records": 0, "images": 0, "latest_status": {}, "boxes": 0, "versions": 0, "version": None, "jobs": {}}
    frame = delta.read(table, _COLUMNS)
    frame = frame.with_columns(pl.col("annotations").list.len().alias("annotations"))
    if frame["record_id"].n_unique() != frame.height:
        frame = query.dedupe(frame)
    top = query.latest(frame, status=None)
    by_status = top.group_by("status").len().sort("status")
    jobs = frame.group_by("labeling_job").len().sort("labeling_job")
    approved = top.filter(pl.col("status") == "APPROVED")
    return {
        "records": frame.height,
        "images": top.height,
        "latest_status": dict(zip(by_status["status"].to_list(), by_status["len"].to_list(), strict=True)),
        "boxes": int(approved["annotations"].sum() or 0),
        "versions": len(versions),
        "version": table.version(),
        "jobs": dict(zip(jobs["labeling_job"].to_list(), jobs["len"].to_list(), strict=True)),
    }
