"""The Data page's paging and filters over frames shaped like the image index and the latest labels."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import polars as pl
import pytest
from PIL import Image

from qiloop.console.data_view import PAGE, Thumbnails, browse, make_thumbnail, ordered
from qiloop.core.errors import ConfigurationError

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def index(n: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "sha256": [f"{i:064x}" for i in range(n)],
            "original_name": [f"img-{i}.png" for i in range(n)],
            "width": [64] * n,
            "height": [48] * n,
            "source": ["camera:cam-1" if i % 2 else "import" for i in range(n)],
            "ingested_at": [T0 + timedelta(seconds=i) for i in range(n)],
        }
    )


def labels(statuses: dict[int, str]) -> pl.DataFrame:
    return pl.DataFrame(
        {"image_sha256": [f"{i:064x}" for i in statuses], "status": list(statuses.values())},
        schema={"image_sha256": pl.String, "status": pl.String},
    )


def test_pages_are_newest_first_and_carry_the_label_status():
    tiles, total = browse(ordered(index(120), labels({119: "APPROVED", 118: "REJECTED"})), "", "", 0)
    assert total == 120 and len(tiles) == PAGE
    assert [t.name for t in tiles[:3]] == ["img-119.png", "img-118.png", "img-117.png"]
    assert [t.status for t in tiles[:3]] == ["APPROVED", "REJECTED", "UNLABELLED"]
    last, _ = browse(ordered(index(120), labels({})), "", "", 2 * PAGE)
    assert len(last) == 120 - 2 * PAGE and last[-1].name == "img-0.png"


@pytest.mark.parametrize(
    ("status", "source", "expected"),
    [
        ("approved", "", [3, 1]),
        ("UNLABELLED", "", [4, 0]),
        ("PENDING_VERIFICATION", "", [2]),
        ("", "camera", [3, 1]),
        ("UNLABELLED", "import", [4, 0]),
    ],
)
def test_filters(status, source, expected):
    frame = ordered(index(5), labels({1: "APPROVED", 2: "PENDING_VERIFICATION", 3: "APPROVED"}))
    tiles, total = browse(frame, status, source, 0)
    assert [int(t.sha256, 16) for t in tiles] == expected and total == len(expected)


def test_an_unknown_status_says_which_exist():
    with pytest.raises(ConfigurationError, match="unknown label status") as caught:
        browse(ordered(index(1), labels({})), "done", "", 0)
    assert "UNLABELLED" in caught.value.hint


def png(width: int, height: int, mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), 128).save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize(
    ("size", "mode", "expected"), [((640, 480), "RGB", (160, 120)), ((100, 400), "I;16", (40, 160))]
)
def test_thumbnails_are_small_jpegs(size, mode, expected):
    with Image.open(io.BytesIO(make_thumbnail(png(*size, mode), 160))) as thumb:
        assert thumb.format == "JPEG" and thumb.size == expected


def test_thumbnails_are_made_once_and_the_cache_is_bounded():
    reads = []

    def read(sha):
        reads.append(sha)
        return None, png(32, 32)

    cache = Thumbnails(keep=2)
    for sha in ("a", "a", "b", "c", "a"):
        cache.get(sha, read)
    assert reads == ["a", "b", "c", "a"]  # "a" was dropped when "c" came in
