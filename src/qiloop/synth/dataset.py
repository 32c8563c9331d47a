"""A synthetic labelled data set on disk, laid out like the real metal-tag data.

``DIR/images/bad/*.jpg`` (crops with scratches), ``DIR/images/good/*.jpg``
(crops without) and ``DIR/labels.csv`` in the reference format. Photo ``k`` is
rendered from its own seed (``SeedSequence(seed, spawn_key=(0, k))``), so image
``i`` is the same whatever the number of images asked for.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from qiloop.core.errors import ConfigurationError
from qiloop.labelstore.formats import labels_csv
from qiloop.labelstore.formats.draft import LabelDraft
from qiloop.synth.render import POSITIONS, Crop, render_photo

BASE_EVENT_TIME = 1_700_000_000  # 2023-11-14T22:13:20Z; image i is labelled i seconds later
MIN_SIZE = (64, 48)
_OURS = re.compile(r"^synth-\d+-\d{5,}-cropped-(left|right)-(top|bottom)\.jpg$")


@dataclass(frozen=True)
class SynthReport:
    """What :func:`generate_dataset` wrote."""

    out: Path
    labels_csv: Path
    paths: tuple[Path, ...]
    photos: int
    boxes: int
    good: int
    bad: int
    labeled: int

    @property
    def images(self) -> int:
        return len(self.paths)

    @property
    def unlabeled(self) -> int:
        return self.images - self.labeled


def parse_size(text: str) -> tuple[int, int]:
    """``"450x300"`` -> ``(450, 300)``; raises :class:`ConfigurationError` on anything else."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not match:
        raise ConfigurationError(f"size {text!r} is not WIDTHxHEIGHT", hint="write it like 450x300")
    return int(match[1]), int(match[2])


def photo_rng(seed: int, photo: int) -> np.random.Generator:
    """The generator that renders photo number ``photo`` of the data set made with ``seed``."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0, photo)))


def photo_name(seed: int, photo: int) -> str:
    """The group name shared by a photo's four crops (the part before ``-cropped``)."""
    return f"synth-{seed}-{photo:05d}"


def iter_crops(seed: int, n: int, size: tuple[int, int] = (450, 300)) -> Iterator[tuple[int, str, Crop, int]]:
    """Yield ``(index, file name, crop, jpeg quality)`` for the first ``n`` images, in order."""
    for k in range(math.ceil(n / len(POSITIONS))):
        photo = render_photo(photo_rng(seed, k), size)
        for j, crop in enumerate(photo.crops()):
            i = k * len(POSITIONS) + j
            if i >= n:
                return
            yield i, f"{photo_name(seed, k)}-cropped-{crop.position}.jpg", crop, photo.jpeg_quality


def _check(out: Path, n: int, seed: int, unlabeled: int, size: tuple[int, int], overwrite: bool) -> None:
    if n < 1:
        raise ConfigurationError(f"cannot make {n} images", hint="ask for at least 1 image (--n)")
    if seed < 0:
        raise ConfigurationError(f"seed {seed} is negative", hint="use a seed of 0 or more")
    if not 0 <= unlabeled <= n:
        raise ConfigurationError(f"cannot leave {unlabeled} of {n} images unlabelled", hint=f"use 0..{n}")
    if size[0] < MIN_SIZE[0] or size[1] < MIN_SIZE[1]:
        raise ConfigurationError(f"crop size {size[0]}x{size[1]} is too small", hint="use at least 64x48")
    if out.exists() and not out.is_dir():
        raise ConfigurationError(f"{out} is a file", hint="give a folder for the data set")
    if not overwrite and out.is_dir() and any(out.iterdir()):
        raise ConfigurationError(f"{out} is not empty", hint="choose an empty folder, or pass --overwrite")


def _clear_previous(out: Path) -> None:
    """Remove images an earlier run wrote (and only those), so counts match the new run."""
    for folder in ("bad", "good"):
        for path in (out / "images" / folder).glob("synth-*.jpg"):
            if _OURS.match(path.name):
                path.unlink()


def generate_dataset(
    out: Path,
    n: int,
    seed: int = 0,
    *,
    unlabeled: int = 0,
    size: tuple[int, int] = (450, 300),
    progress: bool = False,
    overwrite: bool = False,
) -> SynthReport:
    """Write ``n`` synthetic metal-tag images and their ``labels.csv`` under ``out``.

    Args:
        out: the data set folder; must be empty unless ``overwrite``.
        n: how many images (crops); ``ceil(n / 4)`` photos are rendered.
        seed: the same seed gives byte-identical images and labels.
        unlabeled: how many images get no labels.csv row (chosen at random by seed),
            the input a labelling job starts from.
        size: ``(width, height)`` of each image.
        progress: show a progress bar on the terminal.
        overwrite: replace an earlier synthetic data set in ``out``.

    Example:
        >>> report = generate_dataset(Path("/tmp/tags"), 8, seed=1)  # doctest: +SKIP
        >>> report.images, report.labels_csv.name
        (8, 'labels.csv')
    """
    out = Path(out)
    _check(out, n, seed, unlabeled, size, overwrite)
    if overwrite:
        _clear_previous(out)
    for folder in ("bad", "good"):
        (out / "images" / folder).mkdir(parents=True, exist_ok=True)
    skip = {
        int(i) for i in np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,))).permutation(n)[:unlabeled]
    }
    drafts, paths, boxes, bad = [], [], 0, 0
    with _progress(progress, n) as advance:
        for i, name, crop, quality in iter_crops(seed, n, size):
            folder = "bad" if crop.boxes else "good"
            path = out / "images" / folder / name
            _save_jpeg(path, crop.image, quality)
            paths.append(path)
            boxes += len(crop.boxes)
            bad += folder == "bad"
            if i not in skip:
                drafts.append(_draft(f"images/{folder}/{name}", crop, size, seed, i))
            advance()
    csv_path = labels_csv.write(out / "labels.csv", drafts)
    return SynthReport(out, csv_path, tuple(paths), math.ceil(n / 4), boxes, n - bad, bad, len(drafts))


def _draft(ref: str, crop: Crop, size: tuple[int, int], seed: int, i: int) -> LabelDraft:
    return LabelDraft(
        image_ref=labels_csv.REFERENCE_PREFIX + ref,
        image_width=size[0],
        image_height=size[1],
        image_depth=3,
        annotations=crop.boxes,
        event_time=datetime.fromtimestamp(BASE_EVENT_TIME + i, tz=timezone.utc),
        labeling_job=f"labeling-job/synthetic-{seed}",
    )


def _save_jpeg(path: Path, grey: np.ndarray, quality: int) -> None:
    from PIL import Image

    Image.fromarray(grey, mode="L").convert("RGB").save(path, "JPEG", quality=quality)


@contextmanager
def _progress(enabled: bool, total: int) -> Iterator[Callable[[], None]]:
    """A rich progress bar's ``advance`` when asked for, a no-op otherwise."""
    if not enabled:
        yield lambda: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress("{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()) as bar:
        task = bar.add_task("rendering images", total=total)
        yield lambda: bar.advance(task)
