"""Small synthetic label and image stores, built once per module."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from qiloop.labelstore import LabelStore
from qiloop.labelstore.formats import labels_csv
from qiloop.labelstore.formats.draft import ParseResult
from qiloop.labelstore.importer import import_parsed
from qiloop.storage import ImageStore
from qiloop.synth import generate_dataset


@dataclass
class Stores:
    root: Path
    data: Path
    images: ImageStore
    labels: LabelStore
    versions: list[int]


def make_stores(root: Path, n: int, seed: int, batches: int = 1) -> Stores:
    """``n`` synthetic images imported in ``batches`` label-store commits (one version each)."""
    data = root / "data"
    generate_dataset(data, n, seed=seed)
    images, labels = ImageStore.from_url(str(root / "images")), LabelStore.from_url(str(root / "labels"))
    drafts = labels_csv.read(data / "labels.csv").drafts
    step, versions = -(-len(drafts) // batches), []
    for start in range(0, len(drafts), step):
        report = import_parsed(ParseResult(drafts[: start + step]), images, labels, images_root=data)
        assert report.errors == []
        versions.append(report.version)
    return Stores(root, data, images, labels, versions)


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> Stores:
    """24 images (6 photos, seed 5) imported in two commits: 12, then all 24."""
    return make_stores(tmp_path_factory.mktemp("synth"), 24, seed=5, batches=2)
