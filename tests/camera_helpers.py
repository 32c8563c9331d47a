"""A simulated camera for tests and benchmarks of the running stack, and what the labelling service holds."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path


def camera_images(folder: Path, count: int, seed: int = 11) -> set[str]:
    """``count`` synthetic crops written the way a camera should (a temporary name, then a rename); their sha256s."""
    from PIL import Image

    from qiloop.synth import photo_name, photo_rng, render_photo

    folder.mkdir(parents=True, exist_ok=True)
    shas: set[str] = set()
    k = 0
    while len(shas) < count:
        for crop in render_photo(photo_rng(seed, k), (256, 192)).crops():
            if len(shas) == count:
                break
            out = io.BytesIO()
            Image.fromarray(crop.image).save(out, "PNG")
            final = folder / f"{photo_name(seed, k)}-cropped-{crop.position}.png"
            final.with_suffix(".png.part").write_bytes(out.getvalue())
            final.with_suffix(".png.part").replace(final)
            shas.add(hashlib.sha256(out.getvalue()).hexdigest())
        k += 1
    return shas


def queued(settings) -> set[str]:
    """The images waiting in an unfinished labelling job (empty before the labelling database exists)."""
    from qiloop.labeling import jobs
    from qiloop.labeling.db import Database

    if not Path(settings.labeling_db_url.removeprefix("sqlite:///")).exists():
        return set()
    database = Database.from_url(settings.labeling_db_url, create=False)
    try:
        with database.session() as session:
            return jobs.queued_sha256s(session)
    except Exception:  # the schema may not be there yet on the first look
        return set()
    finally:
        database.engine.dispose()
