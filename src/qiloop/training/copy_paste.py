"""Copy-paste of scratches: more training images, made from the scratches the labels already mark.

A scratch is thin and bright against a smooth tag, so what makes it a scratch is
its detail, not its box's background. :func:`transfer_detail` moves only that
detail: the source box minus its own blurred copy (a high-pass), faded out at
the edges, added onto another place of another training image. The pasted box
keeps the tag's local brightness and texture, leaves no seam, and is labelled
with the source box's size. Places are drawn where the background's mean
brightness is close to the source's, and never overlap a box already there.

:func:`add_pasted_copies` writes the new images and their YOLO labels into the
train split of a built dataset (``paste-*.jpg``); validation and test splits
are never touched, so the figures stay honest.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from qiloop.core.errors import ConfigurationError

PREFIX = "paste-"
_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


@dataclass(frozen=True)
class Patch:
    """One labelled scratch cut from a training image: pixels ``(h, w, 3)`` float32, and its class."""

    pixels: np.ndarray
    cls: int


def high_pass(pixels: np.ndarray, radius: float) -> np.ndarray:
    """``pixels`` minus a Gaussian blur of them (float32, same shape): the detail alone."""
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    blurred = np.asarray(image.filter(ImageFilter.GaussianBlur(radius)), dtype=np.float32)
    return pixels.astype(np.float32) - blurred


def feather(height: int, width: int, edge: float = 0.2) -> np.ndarray:
    """A ``(h, w, 1)`` weight that is 1 inside and falls linearly to 0 over ``edge`` of each side."""

    def ramp(n: int) -> np.ndarray:
        k = max(1.0, edge * n)
        i = np.arange(n, dtype=np.float32)
        return np.clip(np.minimum(i + 0.5, n - i - 0.5) / k, 0.0, 1.0)

    return (ramp(height)[:, None] * ramp(width)[None, :])[..., None]


def transfer_detail(dst: np.ndarray, src: np.ndarray, *, radius: float = 6.0, edge: float = 0.2) -> np.ndarray:
    """``dst`` (a region, float32 ``(h, w, 3)``) with the detail of ``src`` (same shape) added, clipped to 0..255.

    Example:
        >>> flat = np.full((9, 9, 3), 40.0, np.float32)
        >>> line = flat.copy(); line[4, :, :] = 200.0
        >>> out = transfer_detail(flat, line, radius=1.0, edge=0.01)
        >>> bool(out[4, 4, 0] > 150 and abs(out[0, 4, 0] - 40.0) < 20)
        True
    """
    if dst.shape != src.shape:
        raise ValueError(f"region {dst.shape} and patch {src.shape} differ in shape")
    detail = high_pass(src, radius) * feather(src.shape[0], src.shape[1], edge)
    return np.clip(dst.astype(np.float32) + detail, 0.0, 255.0)


def overlaps(box: tuple[int, int, int, int], others: list[tuple[int, int, int, int]]) -> bool:
    """Whether ``box`` ``(x0, y0, x1, y1)`` touches any of ``others``."""
    x0, y0, x1, y1 = box
    return any(x0 < b[2] and b[0] < x1 and y0 < b[3] and b[1] < y1 for b in others)


def read_boxes(label_file: Path, width: int, height: int) -> list[tuple[int, tuple[int, int, int, int]]]:
    """``(class, (x0, y0, x1, y1))`` in pixels from a YOLO label file (missing file: none)."""
    if not label_file.is_file():
        return []
    boxes = []
    for line in label_file.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) != 5:
            continue
        cls, cx, cy, w, h = int(parts[0]), *map(float, parts[1:])
        x0, y0 = round((cx - w / 2) * width), round((cy - h / 2) * height)
        x1, y1 = round((cx + w / 2) * width), round((cy + h / 2) * height)
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(width, x1), min(height, y1)
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            boxes.append((cls, (x0, y0, x1, y1)))
    return boxes


def _yolo_line(cls: int, box: tuple[int, int, int, int], width: int, height: int) -> str:
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2 / width, (y0 + y1) / 2 / height
    return f"{cls} {cx:.6f} {cy:.6f} {(x1 - x0) / width:.6f} {(y1 - y0) / height:.6f}"


def _train_pairs(root: Path, split: str) -> list[tuple[Path, Path]]:
    images = root / "images" / split
    if not images.is_dir():
        raise ConfigurationError(f"{images} is not a dataset split folder", hint="build the dataset first")
    return [
        (p, root / "labels" / split / f"{p.stem}.txt")
        for p in sorted(images.iterdir())
        if p.suffix.lower() in _SUFFIXES and not p.name.startswith(PREFIX)
    ]


def _rgb(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"), dtype=np.float32)


def _patches(pairs: list[tuple[Path, Path]]) -> list[Patch]:
    patches = []
    for image_path, label_path in pairs:
        pixels = _rgb(image_path)
        height, width = pixels.shape[:2]
        for cls, (x0, y0, x1, y1) in read_boxes(label_path, width, height):
            patches.append(Patch(pixels[y0:y1, x0:x1].copy(), cls))
    return patches


def _place(
    rng: random.Random,
    smooth: np.ndarray,
    patch: np.ndarray,
    taken: list[tuple[int, int, int, int]],
    tries: int = 40,
) -> tuple[int, int, int, int] | None:
    """A free, even place for ``patch`` whose background brightness is near the patch's, or None.

    ``smooth`` is the blurred image: a place must be even there (no tag edge, hole or
    print under it) and within 40 grey levels of the patch's median.
    """
    canvas = smooth
    height, width = canvas.shape[:2]
    ph, pw = patch.shape[:2]
    if ph >= height or pw >= width:
        return None
    level = float(np.median(patch))  # a thin scratch's box is mostly background
    for _ in range(tries):
        x0, y0 = rng.randrange(0, width - pw), rng.randrange(0, height - ph)
        box = (x0, y0, x0 + pw, y0 + ph)
        if overlaps(box, taken):
            continue
        region = canvas[y0 : y0 + ph, x0 : x0 + pw]
        if abs(float(np.median(region)) - level) <= 40.0 and float(region.std()) <= 12.0:
            return box
    return None


def add_pasted_copies(
    root: str | Path, *, copies: float, per_image: int = 3, seed: int = 0, split: str = "train", quality: int = 95
) -> int:
    """Write ``round(copies × images)`` pasted images (1..``per_image`` scratches each) into ``split``.

    Args:
        root: a YOLO dataset folder (``images/<split>``, ``labels/<split>``).
        copies: new images per training image (0 writes none).
        per_image: the most scratches pasted onto one image.
        seed: makes the choice of images, scratches and places repeatable.
        split: the split to grow; only ever the training split.
        quality: JPEG quality of the new images.

    Returns:
        How many images were written (an image where no scratch found a place is skipped).
    """
    if copies < 0 or per_image < 1:
        raise ConfigurationError("copy-paste needs copies ≥ 0 and per_image ≥ 1", hint="e.g. paste.copies=1")
    root = Path(root)
    pairs = _train_pairs(root, split)
    patches = _patches(pairs)
    wanted = round(copies * len(pairs))
    if not wanted or not patches:
        return 0
    rng = random.Random(seed)
    written = 0
    for n in range(wanted):
        image_path, label_path = pairs[n % len(pairs)] if n < len(pairs) else rng.choice(pairs)
        canvas = _rgb(image_path)
        height, width = canvas.shape[:2]
        kept = read_boxes(label_path, width, height)
        smooth = canvas - high_pass(canvas, 6.0)
        taken = [box for _, box in kept]
        lines = [_yolo_line(cls, box, width, height) for cls, box in kept]
        for _ in range(rng.randint(1, per_image)):
            patch = rng.choice(patches)
            pixels = patch.pixels[:, ::-1] if rng.random() < 0.5 else patch.pixels
            pixels = pixels[::-1] if rng.random() < 0.5 else pixels
            box = _place(rng, smooth, pixels, taken)
            if box is None:
                continue
            x0, y0, x1, y1 = box
            canvas[y0:y1, x0:x1] = transfer_detail(canvas[y0:y1, x0:x1], np.ascontiguousarray(pixels))
            taken.append(box)
            lines.append(_yolo_line(patch.cls, box, width, height))
        if len(taken) == len(kept):
            continue
        name = f"{PREFIX}{n:05d}-{image_path.stem}"
        Image.fromarray(canvas.astype(np.uint8)).save(root / "images" / split / f"{name}.jpg", quality=quality)
        (root / "labels" / split / f"{name}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        written += 1
    return written


def paste_scratches(root: str | Path, config) -> int:
    """:func:`add_pasted_copies` on a built dataset's train split as ``config.paste`` asks (a TrainConfig)."""
    if not config.paste.copies:
        return 0
    return add_pasted_copies(root, copies=config.paste.copies, per_image=config.paste.per_image, seed=config.seed)
