"""The simulated workforce's ingredients: known truth, label noise, and how good a consolidation is.

Pure functions and small readers, so the bots (``qiloop.sim.bots``) stay an HTTP
client and these parts get table tests. Truth is a mapping from an image's
sha256 to its boxes: from the label store's approved labels, or re-rendered by
the synthetic generator from an image's original file name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from functools import lru_cache

import numpy as np

from qiloop.core.errors import ConfigurationError
from qiloop.core.records import Box
from qiloop.labeling.overlap import match_pairs

_SYNTH_NAME = re.compile(r"^synth-(\d+)-(\d{5,})-cropped-(left|right)-(top|bottom)\.(?:jpe?g|png)$")


@dataclass(frozen=True)
class Noise:
    """How a simulated worker departs from the truth.

    Attributes:
        jitter: Each box edge moves by a normal error of this share of the box's size.
        miss: Chance of leaving out each true box.
        spurious: Expected number of invented boxes per image (Poisson).
    """

    jitter: float = 0.05
    miss: float = 0.05
    spurious: float = 0.05

    @classmethod
    def parse(cls, text: str) -> Noise:
        """``"jitter=0.05,miss=0.1,spurious=0.2"`` (any subset) -> Noise.

        Example:
            >>> Noise.parse("miss=0.2").miss
            0.2
        """
        known = {f.name for f in fields(cls)}
        values: dict[str, float] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, _, value = part.partition("=")
            try:
                number = float(value)
            except ValueError:
                number = -1.0
            if key.strip() not in known or number < 0:
                raise ConfigurationError(
                    f"cannot read the noise setting {part!r}",
                    hint="write key=value pairs with keys jitter, miss, spurious and values >= 0",
                )
            values[key.strip()] = number
        return cls(**values)


SLOPPY = Noise(jitter=0.3, miss=0.45, spurious=1.0)


def noisy_boxes(truth: Sequence[Box], width: int, height: int, noise: Noise, rng: np.random.Generator) -> list[Box]:
    """A simulated worker's boxes for an image whose true boxes are ``truth``, inside the image."""
    out = []
    for box in truth:
        if rng.random() < noise.miss:
            continue
        dx1, dx2 = rng.normal(0, noise.jitter * box.width, 2)
        dy1, dy2 = rng.normal(0, noise.jitter * box.height, 2)
        clipped = _clip(box.left + dx1, box.top + dy1, box.right + dx2, box.bottom + dy2, width, height, box.class_id)
        if clipped is not None:
            out.append(clipped)
    for _ in range(rng.poisson(noise.spurious)):
        w, h = rng.uniform(0.03, 0.25) * width, rng.uniform(0.03, 0.25) * height
        x, y = rng.uniform(0, width - w), rng.uniform(0, height - h)
        clipped = _clip(x, y, x + w, y + h, width, height, 0)
        if clipped is not None:
            out.append(clipped)
    return out


def _clip(x1, y1, x2, y2, width, height, class_id) -> Box | None:
    x1, x2 = sorted((float(np.clip(x1, 0, width)), float(np.clip(x2, 0, width))))
    y1, y2 = sorted((float(np.clip(y1, 0, height)), float(np.clip(y2, 0, height))))
    x1, y1, x2, y2 = (round(v, 2) for v in (x1, y1, x2, y2))
    if x2 - x1 < 1 or y2 - y1 < 1:
        return None
    return Box(class_id=class_id, left=x1, top=y1, width=round(x2 - x1, 2), height=round(y2 - y1, 2))


@dataclass(frozen=True)
class Quality:
    """Boxes against the truth at IoU 0.5, pooled over images."""

    images: int
    true_positives: int
    false_positives: int
    false_negatives: int
    mean_iou: float  # of the matched pairs

    @property
    def f1(self) -> float:
        denominator = 2 * self.true_positives + self.false_positives + self.false_negatives
        return 1.0 if denominator == 0 else 2 * self.true_positives / denominator


def quality(predicted: Mapping[str, Sequence[Box]], truth: Mapping[str, Sequence[Box]]) -> Quality:
    """How well ``predicted`` boxes (by sha256) match the ``truth`` of the same images."""
    tp = fp = fn = 0
    ious: list[float] = []
    for sha, boxes in predicted.items():
        known = truth.get(sha, ())
        pairs = match_pairs(boxes, known, 0.5)
        tp, fp, fn = tp + len(pairs), fp + len(boxes) - len(pairs), fn + len(known) - len(pairs)
        ious.extend(iou for _, _, iou in pairs)
    return Quality(len(predicted), tp, fp, fn, float(np.mean(ious)) if ious else 0.0)


class SynthTruth(Mapping[str, tuple[Box, ...]]):
    """The synthetic generator's boxes of images in an image store, re-rendered from their file names.

    An image named ``synth-SEED-PHOTO-cropped-POS.jpg`` is rendered again from
    its seed (the generator is deterministic), so no labels file is needed.
    """

    def __init__(self, image_store) -> None:
        self._store = image_store

    def __getitem__(self, sha256: str) -> tuple[Box, ...]:
        record = self._store.find(sha256)
        match = _SYNTH_NAME.match(record.original_name) if record is not None else None
        if match is None:
            raise KeyError(sha256)
        seed, photo, side, row = int(match[1]), int(match[2]), match[3], match[4]
        return _photo_boxes(seed, photo, (record.width, record.height))[f"{side}-{row}"]

    def __iter__(self) -> Iterator[str]:
        return (r.sha256 for r in self._store.list() if _SYNTH_NAME.match(r.original_name))

    def __len__(self) -> int:
        return sum(1 for _ in self)


@lru_cache(maxsize=64)
def _photo_boxes(seed: int, photo: int, size: tuple[int, int]) -> dict[str, tuple[Box, ...]]:
    from qiloop.synth import photo_rng, render_photo

    return {crop.position: tuple(crop.boxes) for crop in render_photo(photo_rng(seed, photo), size).crops()}


def label_store_truth(label_store) -> dict[str, tuple[Box, ...]]:
    """The latest APPROVED boxes of every image in the label store."""
    return {r.image_sha256: tuple(r.annotations) for r in label_store.latest()}


class KnownTruth(dict):
    """Every box known for an image: the synthetic generator's first, else the label store's approved ones.

    Example:
        ``KnownTruth(SynthTruth(images), label_store_truth(labels)).get(sha256)``
    """

    def __init__(self, synth: Mapping[str, Sequence[Box]], approved: Mapping[str, Sequence[Box]]) -> None:
        super().__init__(approved)
        self._synth = synth

    def get(self, sha256, default=()):
        try:
            return self._synth[sha256]
        except KeyError:
            return super().get(sha256, default)
