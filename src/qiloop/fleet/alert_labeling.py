"""A drift or defect-rate alert opens a labelling job on the device's recent images.

The images are the device's feedback images (those it sent back as uncertain,
with its model's boxes as pre-labels) received within ``lookback`` of the alert
and neither labelled nor waiting in another job: the selection of
:func:`qiloop.labeling.job_sources.free_images`, which the loop's
:func:`qiloop.loop.labeling_job.open_labeling_job` uses too (fleet may not import the
loop, and this job wants one device's feedback, not every device's).

Off by default (``QILOOP_FLEET_ALERT_LABELING=true`` turns it on): a job is work
for people, and a noisy line should not fill their queue unasked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone

from qiloop.fleet.alerts import DATA_ALERTS, Alert

log = logging.getLogger(__name__)


def open_device_job(db, images, labels, device_id: str, *, since: datetime, classes: Sequence[str],
                    annotators: int = 3, name: str | None = None):  # fmt: skip
    """Open a job on ``device_id``'s feedback images received since ``since``; its summary, or None when none wait.

    Args:
        db: The labelling database (:class:`qiloop.labeling.db.Database`).
        images, labels: The image store (its feedback area) and the label store.
    """
    from qiloop.labeling import jobs
    from qiloop.labeling.job_sources import free_images

    chosen = free_images(db, images, labels, "feedback", device_id=device_id, since=since)
    if not chosen.records:
        return None
    safe = "".join(c if c.isalnum() or c in "._-" else "-" for c in device_id)[:80]
    spec = jobs.JobSpec.build(
        name=name or f"alert-{safe}-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}",
        classes=list(classes),
        annotators_per_image=annotators,
        prelabel_source="feedback",
        instructions=f"Images device {device_id} sent back after its results changed; box every defect.",
    )
    with db.session() as session:
        return jobs.create_job(session, spec, chosen.records, prelabels=chosen.prelabels)


class LabelingTrigger:
    """An alert listener: a data alert (drift, defect rate) about a device opens a job on its recent images.

    Args:
        open_job: ``open_job(device_id, since)`` opens the job; its name, or None when no image waits.
        lookback: How far back the images go.
    """

    def __init__(self, open_job: Callable[[str, datetime], str | None], *, lookback: timedelta = timedelta(hours=24)):
        self.open_job, self.lookback = open_job, lookback
        self.opened: list[str] = []

    @classmethod
    def from_settings(cls, settings, *, lookback: timedelta = timedelta(hours=24)) -> LabelingTrigger:
        """A trigger over the labelling database, image store and label store of ``settings``."""

        def open_job(device_id: str, since: datetime) -> str | None:
            from qiloop.labeling.db import Database
            from qiloop.labelstore import LabelStore
            from qiloop.storage import ImageStore

            db = Database.from_url(settings.labeling_db_url, create=True)
            try:
                summary = open_device_job(
                    db, ImageStore.from_settings(settings), LabelStore.from_settings(settings), device_id,
                    since=since, classes=settings.classes,
                )  # fmt: skip
            finally:
                db.dispose()
            return None if summary is None else summary.name

        return cls(open_job, lookback=lookback)

    def __call__(self, alert: Alert) -> None:
        if alert.kind not in DATA_ALERTS or alert.device_id is None:
            return
        name = self.open_job(alert.device_id, alert.opened_at - self.lookback)
        if name is None:
            log.info("alert %s: no feedback image of %s waits for labelling", alert.id, alert.device_id)
            return
        self.opened.append(name)
        log.warning("alert %s opened labelling job %s for device %s", alert.id, name, alert.device_id)
