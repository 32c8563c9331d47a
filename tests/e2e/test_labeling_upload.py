"""Uploading images through the admin page in Chromium: pick files, start a job, read the result table.

A real service on a free port, real stores, Debian's Chromium driven by
Playwright; the files go through the page's own file input. With
``QILOOP_DOCS_SCREENSHOTS=1`` the screenshot goes to ``docs/labeling-upload.png``;
otherwise to the test's temp folder.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image

from browser_helpers import chromium, log_in
from labeling_web_helpers import running_service
from qiloop.labeling.jobs import get_job, summary

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DOCS = Path(__file__).resolve().parents[2] / "docs"


def tag_crops() -> list[tuple[str, bytes]]:
    """The four crops of one synthetic tag photo, as JPEG files named the way the camera names them."""
    from qiloop.synth import photo_name, photo_rng, render_photo

    files = []
    for crop in render_photo(photo_rng(7, 0), (450, 300)).crops():
        out = io.BytesIO()
        Image.fromarray(crop.image).save(out, "JPEG", quality=90)
        files.append((f"{photo_name(7, 0)}-cropped-{crop.position}.jpg", out.getvalue()))
    return files


def test_upload_images_and_start_a_job_from_the_admin_page(tmp_path):
    out = DOCS if os.environ.get("QILOOP_DOCS_SCREENSHOTS") == "1" else tmp_path
    crops = tag_crops()
    cut = crops[1][1][: len(crops[1][1]) // 2]
    chosen = [
        *crops,
        ("line-3-notes.jpg", b"operator notes, saved with the wrong extension\n"),
        ("cut-short.jpg", cut),
        ("copy-of-first.jpg", crops[0][1]),
    ]
    with running_service(tmp_path, images=0, job=None) as service, chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        log_in(page, service.url, "ada")
        page.click('header nav a[href="/admin/images"]')
        page.wait_for_selector("form#upload")
        page.set_input_files(
            'input[name="files"]', [{"name": n, "mimeType": "image/jpeg", "buffer": data} for n, data in chosen]
        )
        page.fill('input[name="job"]', "uploads-week-47")
        page.fill('input[name="annotators"]', "2")
        page.click('form#upload button[type="submit"]')
        page.wait_for_selector("#uploads tbody tr")

        rows = page.locator("#uploads tbody tr")
        assert rows.count() == len(chosen)
        seen = {}
        for i in range(rows.count()):
            cells = rows.nth(i).locator("td").all_text_contents()
            seen[cells[0]] = (rows.nth(i).get_attribute("class"), cells[3], cells[4])
        assert [rows.nth(i).locator("td.name").text_content() for i in range(rows.count())] == [n for n, _ in chosen]
        for name, _ in crops:
            assert seen[name][0] == "stored" and "×" in seen[name][1]
        assert seen["copy-of-first.jpg"][0] == "duplicate"
        assert (
            seen["line-3-notes.jpg"][0] == "rejected"
            and "not a JPEG, PNG, BMP, TIFF or WebP" in seen["line-3-notes.jpg"][2]
        )
        assert seen["cut-short.jpg"][0] == "rejected" and "truncated" in seen["cut-short.jpg"][2]
        assert "4 stored, 1 already stored, 2 rejected" in " ".join(page.text_content("#summary").split())
        assert "uploads-week-47" in page.text_content("#job") and "4 images" in page.text_content("#job")
        shas = [rows.nth(i).locator("td.sha256 code").get_attribute("title") for i in range(len(crops))]
        first_sha = shas[0]
        page.screenshot(path=str(out / "labeling-upload.png"), full_page=True)

        record = service.images.get(first_sha)
        assert record.source == "upload:ada" and record.original_name == crops[0][0]
        assert record.group == crops[0][0].split("-cropped")[0]  # the group pattern, from the file name
        with service.db.session() as session:
            job = summary(session, get_job(session, "uploads-week-47"))
        assert job.images == 4 and job.annotators_per_image == 2

        page.click("#job a")  # straight on to labelling the new job
        page.wait_for_selector('#canvas[data-state="ready"]')
        info = page.text_content("#task-info")
        assert any(name in info for name, _ in crops) and not any(sha[:16] in info for sha in shas), info
