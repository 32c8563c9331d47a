"""A qiloop home in a temporary folder: real image store, label store and labelling database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import pytest

from qiloop.core.records import Box, LabelRecord, LabelStatus


@dataclass
class Home:
    settings: object
    images: object
    labels: object
    db: object


@pytest.fixture
def home(tmp_path):
    from qiloop.labeling.db import Database
    from qiloop.labelstore import LabelStore
    from qiloop.settings import Settings
    from qiloop.storage import ImageStore

    settings = Settings(home=tmp_path / "home")
    db = Database.from_settings(settings)
    yield Home(settings, ImageStore.from_settings(settings), LabelStore.from_settings(settings), db)
    db.dispose()


@pytest.fixture
def approve():
    """``approve(labels, records, boxes)``: approved labels for image records."""
    return _approve


def _approve(labels, records, boxes=((10, 10, 20, 15),)) -> None:
    """Append an APPROVED label with ``boxes`` (left, top, width, height) for each image record."""
    now = datetime.now(timezone.utc)
    labels.append(
        [
            LabelRecord(
                image_uri=r.uri,
                image_sha256=r.sha256,
                image_width=r.width,
                image_height=r.height,
                image_depth=r.depth,
                annotations=[Box(class_id=0, left=x, top=y, width=w, height=h) for x, y, w, h in boxes],
                event_time=now,
                labeling_job="test",
                status=LabelStatus.APPROVED,
            )
            for r in records
        ]
    )
