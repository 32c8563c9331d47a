"""Browser-test helpers: Debian's Chromium driven by Playwright, and synthetic tag images worth looking at."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PIL import Image

from labeling_helpers import PASSWORD
from require_helpers import require, require_import

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@contextmanager
def chromium() -> Iterator[object]:
    """A headless Chromium (skips the test when Debian's chromium or the playwright package is missing)."""
    if not CHROMIUM.exists():
        require("browser", f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    sync_api = require_import("browser", "playwright.sync_api", "the playwright package is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def log_in(page, url: str, user: str) -> None:
    """Log in through the login form, as a person would."""
    page.goto(f"{url}/login")
    page.fill('input[name="username"]', user)
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]')
    page.wait_for_load_state("networkidle")


def synth_images(image_store, photos: int = 1, size: tuple[int, int] = (450, 300), seed: int = 0):
    """Ingest the crops of ``photos`` synthetic photos; returns (records, true boxes by sha256)."""
    from qiloop.synth import photo_name, photo_rng, render_photo

    records, truth = [], {}
    for k in range(photos):
        for crop in render_photo(photo_rng(seed, k), size).crops():
            out = io.BytesIO()
            Image.fromarray(crop.image).save(out, "PNG")
            name = f"{photo_name(seed, k)}-cropped-{crop.position}.png"
            record = image_store.ingest_bytes(out.getvalue(), name=name)
            records.append(record)
            truth[record.sha256] = tuple(crop.boxes)
    return records, truth


def canvas_point(page, x: float, y: float, width: int, height: int) -> tuple[float, float]:
    """Where the image pixel (x, y) is on the screen when the editor fits the image in its canvas."""
    rect = page.eval_on_selector(
        "#canvas", "c => { const r = c.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; }"
    )
    cx, cy, cw, ch = rect
    scale = min(cw / width, ch / height) * 0.98
    ox, oy = (cw - width * scale) / 2, (ch - height * scale) / 2
    return cx + ox + x * scale, cy + oy + y * scale
