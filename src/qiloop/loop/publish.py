"""Use case: approved labels into the label store.

A verifier's approval is committed to the labelling database and then appended to
the label store; a crash between the two leaves the decision unpublished. This
step appends every such decision (appends are idempotent by record id), so it is
safe to run at any time, as often as wanted.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Published:
    """How many approvals were appended now, and the label store as it stands after."""

    appended: int
    approved_images: int
    label_store_version: int | None

    def metadata(self) -> dict[str, float]:
        return {
            "appended": self.appended,
            "approved_images": self.approved_images,
            "label_store_version": -1 if self.label_store_version is None else self.label_store_version,
        }


def publish_approved_labels(db, labels) -> Published:
    """Append the approvals the labelling database holds but the label store lacks.

    Args:
        db: The labelling database (:class:`qiloop.labeling.db.Database`).
        labels: The label store.

    Raises:
        StoreError: The label store cannot be written (the decisions stay pending for the next call).
    """
    from qiloop.labeling.publish import publish_pending

    appended = publish_pending(db, labels)
    return Published(appended, len(labels.labeled_sha256s()), labels.version())
