"""How a model version's lineage, metrics and approval live in MLflow tags, both ways.

Everything a version needs is a model-version tag, so the MLflow UI shows it and
a reader needs one query, not one per run:

    approval_status      Approved | PendingManualApproval | Rejected
    approval_reason      why it was approved or rejected (optional)
    approval_time        when it was last approved or rejected
    dataset_snapshot     fingerprint of the label snapshot it was trained on
    label_store_version  the label-store table version of that snapshot
    git_commit           the code it was trained with
    metric.<name>        evaluation metrics (finite values only)
    package_files        JSON {file: {sha256, size}} of the model package
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from qiloop.core.errors import InvalidRecordError
from qiloop.core.models import ApprovalStatus, ModelVersion
from qiloop.core.package import PackageFile

APPROVAL = "approval_status"
REASON = "approval_reason"
APPROVAL_TIME = "approval_time"
DATASET = "dataset_snapshot"
LABEL_VERSION = "label_store_version"
GIT = "git_commit"
FILES = "package_files"
METRIC = "metric."
_KNOWN = {APPROVAL, REASON, DATASET, LABEL_VERSION, GIT, FILES}


def approval_of(value: ApprovalStatus | str) -> ApprovalStatus:
    """Accept an approval state by value (``Approved``) or name (``APPROVED``)."""
    if isinstance(value, ApprovalStatus):
        return value
    for state in ApprovalStatus:
        if value in (state.value, state.name) or value.lower() == state.value.lower():
            return state
    allowed = ", ".join(s.value for s in ApprovalStatus)
    raise InvalidRecordError(f"unknown approval state {value!r}", hint=f"use one of {allowed}")


def version_tags(
    *,
    approval: ApprovalStatus,
    metrics: Mapping[str, float],
    files: Mapping[str, PackageFile],
    dataset_snapshot: str | None = None,
    label_store_version: int | None = None,
    git_commit: str | None = None,
    reason: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """The tags a new model version is created with (``None`` values are left out)."""
    tags = {str(k): str(v) for k, v in (extra or {}).items() if v is not None}
    tags[APPROVAL] = approval.value
    for key, value in ((REASON, reason), (DATASET, dataset_snapshot), (LABEL_VERSION, label_store_version)):
        if value is not None:
            tags[key] = str(value)
    if git_commit:
        tags[GIT] = git_commit
    for name, value in metrics.items():
        if value is not None and math.isfinite(float(value)):
            tags[METRIC + name] = repr(float(value))
    tags[FILES] = json.dumps({n: f.model_dump() for n, f in sorted(files.items())}, separators=(",", ":"))
    return tags


def version_from_tags(
    *,
    name: str,
    version: int | str,
    tags: Mapping[str, str],
    created_ms: int | None,
    run_id: str | None,
    source: str,
    aliases: Sequence[str] = (),
) -> ModelVersion:
    """Build the :class:`ModelVersion` record from what MLflow stores for a version.

    A version registered outside qiloop (no ``approval_status`` tag) reads as
    pending manual approval, so it never reaches production by accident.
    """
    files = {n: PackageFile(**f) for n, f in json.loads(tags[FILES]).items()} if tags.get(FILES) else {}
    label_version = tags.get(LABEL_VERSION)
    return ModelVersion(
        name=name,
        version=int(version),
        approval=approval_of(tags.get(APPROVAL, ApprovalStatus.PENDING.value)),
        metrics={k[len(METRIC) :]: float(v) for k, v in tags.items() if k.startswith(METRIC)},
        dataset_snapshot=tags.get(DATASET),
        label_store_version=int(label_version) if label_version not in (None, "", "None") else None,
        git_commit=tags.get(GIT),
        created_at=datetime.fromtimestamp((created_ms or 0) / 1000, tz=timezone.utc),
        run_id=run_id or None,
        source=source or "",
        aliases=tuple(sorted(aliases)),
        files=files,
        reason=tags.get(REASON),
        tags={k: v for k, v in tags.items() if k not in _KNOWN and not k.startswith(METRIC)},
    )
