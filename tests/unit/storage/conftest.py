"""Tiny images built in the tests, and the real metal-tag photos when present."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from require_helpers import require

REAL_DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "metal-tags"


class ImageFactory:
    """Builds image bytes of a given format and mode; ``seed`` makes distinct content."""

    def encode(self, fmt: str, mode: str = "RGB", size: tuple[int, int] = (64, 48), seed: int = 0, **save) -> bytes:
        rng = np.random.default_rng(seed)
        height, width = size[1], size[0]
        if mode == "I;16":
            image = Image.fromarray(rng.integers(0, 65535, (height, width), dtype=np.uint16))
        elif mode in ("L", "P"):
            image = Image.fromarray(rng.integers(0, 255, (height, width), dtype=np.uint8), "L").convert(mode)
        else:
            pixels = rng.integers(0, 255, (height, width, 4), dtype=np.uint8)
            if mode == "LA":
                image = Image.fromarray(pixels[..., :2].copy(), "LA")
            else:
                image = Image.fromarray(pixels, "RGBA").convert(mode)
        out = io.BytesIO()
        image.save(out, fmt, **save)
        return out.getvalue()

    def jpeg(self, seed: int = 0, size: tuple[int, int] = (64, 48), mode: str = "RGB", **save) -> bytes:
        return self.encode("JPEG", mode, size, seed, **save)

    def png(self, seed: int = 0, size: tuple[int, int] = (64, 48), mode: str = "RGB", **save) -> bytes:
        return self.encode("PNG", mode, size, seed, **save)

    @staticmethod
    def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
        """A valid-looking PNG of a few dozen bytes whose IHDR declares ``width`` x ``height``."""

        def chunk(kind: bytes, body: bytes) -> bytes:
            return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

        ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b"")
        )

    def jpeg_bomb(self, width: int = 60_000, height: int = 60_000) -> bytes:
        """A small real JPEG whose frame header is rewritten to declare ``width`` x ``height``."""
        data = bytearray(self.jpeg(size=(16, 16)))
        sof = data.find(b"\xff\xc0")
        struct.pack_into(">HH", data, sof + 5, height, width)
        return bytes(data)


@pytest.fixture
def images() -> ImageFactory:
    return ImageFactory()


@pytest.fixture
def real_images() -> Path:
    folder = REAL_DATA / "images"
    if not folder.is_dir():
        require("realdata", f"real metal-tag data not found at {REAL_DATA.resolve()} (needs the shared data folder)")
    return folder
