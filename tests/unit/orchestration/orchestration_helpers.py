"""Small real images and label records that the orchestration tests drop into real stores."""

from __future__ import annotations

import io
from datetime import datetime, timezone
from pathlib import Path

import numpy as np


def png(seed: int, size: tuple[int, int] = (64, 48)) -> bytes:
    """A small PNG whose pixels (so sha256) depend on ``seed``."""
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(out, "PNG")
    return out.getvalue()


def drop(folder: Path, seeds, prefix: str = "frame") -> list[Path]:
    """Write one PNG per seed into ``folder`` (a camera dropping frames)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for seed in seeds:
        path = folder / f"{prefix}-{seed:04d}.png"
        path.write_bytes(png(seed))
        paths.append(path)
    return paths


def approved(record, *, job: str = "orchestration-test"):
    """An APPROVED label record for an image record of the image store."""
    from qiloop.core.records import Box, LabelRecord, LabelSource, LabelStatus

    return LabelRecord(
        image_uri=record.uri,
        image_sha256=record.sha256,
        image_width=record.width,
        image_height=record.height,
        image_depth=record.depth,
        annotations=(Box(class_id=0, left=4, top=4, width=10, height=8),),
        event_time=datetime.now(timezone.utc),
        labeling_job=job,
        status=LabelStatus.APPROVED,
        source=LabelSource.IMPORT,
    )
