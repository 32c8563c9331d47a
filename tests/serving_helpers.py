"""Images and a running endpoint for the serving tests."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

REAL_IMAGES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "metal-tags" / "images"


def sample_jpegs(count: int) -> list[tuple[str, bytes]]:
    """``count`` real metal-tag JPEGs (name, bytes) when the data is there, else rendered synthetic tags."""
    real = sorted(REAL_IMAGES.rglob("*.jpg"))[:count] if REAL_IMAGES.is_dir() else []
    if len(real) == count:
        return [(p.name, p.read_bytes()) for p in real]
    from qiloop.synth import render_crop

    out = []
    for i in range(count):
        crop = render_crop(np.random.default_rng(i), (300, 450))
        buffer = io.BytesIO()
        Image.fromarray(crop.image).convert("RGB").save(buffer, "JPEG", quality=90)
        out.append((f"synth-{i}.jpg", buffer.getvalue()))
    return out


def png(width: int, height: int) -> bytes:
    """A flat grey PNG (tiny on disk whatever its pixel count)."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (90, 90, 90)).save(buffer, "PNG")
    return buffer.getvalue()


def serve_package(package: Path, **options):
    """A started ``BackgroundServer`` serving ``package`` (the caller stops it)."""
    from qiloop.serving import ModelHolder, PackageSource, ServeOptions
    from qiloop.serving.app import create_app
    from qiloop.serving.server import BackgroundServer

    opts = ServeOptions(**{"poll_s": 0, **options})
    holder = ModelHolder.for_options(PackageSource(package), opts)
    holder.refresh()
    return BackgroundServer(create_app(holder, opts)).start()
