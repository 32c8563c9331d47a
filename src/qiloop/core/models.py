"""The model registry's record: one registered model version and its approval state.

Training writes model versions, edge deployment and the HTTP endpoint read them.
A version carries what is needed to trust it (metrics, the dataset snapshot and
label-store version it was trained on, the code commit, the sha256 of every file
of its model package) and its approval state. The ``production`` alias names the
version that devices and the endpoint should run.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import Enum

from pydantic import Field, field_validator

from qiloop.core.package import PackageFile
from qiloop.core.records import _Record, utc

PRODUCTION = "production"


class ApprovalStatus(str, Enum):
    """Where a model version stands; only ``Approved`` versions may reach production."""

    APPROVED = "Approved"
    PENDING = "PendingManualApproval"
    REJECTED = "Rejected"


class ModelVersion(_Record):
    """One version of a registered model, as the registry reports it.

    ``ref`` (``name/version``) names it everywhere: CLI, deployments, logs.
    """

    name: str = Field(min_length=1)
    version: int = Field(ge=1)
    approval: ApprovalStatus
    metrics: dict[str, float] = Field(default_factory=dict)
    dataset_snapshot: str | None = None
    label_store_version: int | None = None
    git_commit: str | None = None
    created_at: datetime
    run_id: str | None = None
    source: str = ""
    aliases: tuple[str, ...] = ()
    files: dict[str, PackageFile] = Field(default_factory=dict)
    reason: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)

    @field_validator("created_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return utc(value)

    @property
    def ref(self) -> str:
        """``name/version``, the reference that always names exactly this version."""
        return f"{self.name}/{self.version}"

    @property
    def is_production(self) -> bool:
        return PRODUCTION in self.aliases


def production_version(approvals: Mapping[int, ApprovalStatus]) -> int | None:
    """The version that should carry the ``production`` alias: the newest approved one.

    Approving a newer version therefore promotes it; rejecting the production
    version falls back to the previous approved one, or to none.

    Example:
        >>> production_version({1: ApprovalStatus.APPROVED, 2: ApprovalStatus.REJECTED})
        1
    """
    approved = [v for v, state in approvals.items() if state == ApprovalStatus.APPROVED]
    return max(approved, default=None)
