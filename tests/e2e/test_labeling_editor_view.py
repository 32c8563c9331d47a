"""The editor's view in Chromium: brightness and contrast, redo, file names, box numbers, the labeller's progress.

Pixels are read back from the canvas, boxes from the page's list, counts from
the progress line; nothing is taken on the page's word alone.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from browser_helpers import canvas_point, chromium, log_in, synth_images
from labeling_web_helpers import running_service
from qiloop.core.records import Box
from qiloop.labeling import jobs
from qiloop.labeling.models import Annotation

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Mean and spread of the canvas pixels under the image's centre (the image is same-origin: readable).
CENTRE_STATS = """c => {
  const r = c.getBoundingClientRect(), dpr = window.devicePixelRatio || 1;
  const d = c.getContext("2d").getImageData(Math.round(r.width * dpr / 2) - 40, Math.round(r.height * dpr / 2) - 40,
    80, 80).data;
  let sum = 0, sq = 0, n = 0;
  for (let i = 0; i < d.length; i += 4) { const v = (d[i] + d[i + 1] + d[i + 2]) / 3; sum += v; sq += v * v; n++; }
  const mean = sum / n;
  return [mean, Math.sqrt(sq / n - mean * mean)];
}"""

# The list's left padding against the width of a three-digit marker in the list's font.
MARKER_ROOM = """ol => {
  const li = ol.querySelector("li"), ctx = document.createElement("canvas").getContext("2d");
  ctx.font = getComputedStyle(li).font;
  return [parseFloat(getComputedStyle(ol).paddingLeft), ctx.measureText("100. ").width];
}"""


def wait_until(condition, timeout: float = 15.0) -> None:
    """Poll ``condition`` from here (the page's CSP allows no script evaluated from a string)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the page"
        time.sleep(0.05)


def drag(page, start, end, size=(450, 300)) -> None:
    page.mouse.move(*canvas_point(page, *start, *size))
    page.mouse.down()
    page.mouse.move(*canvas_point(page, *end, *size), steps=4)
    page.mouse.up()


def test_brightness_and_contrast_change_the_image_not_the_boxes(tmp_path):
    with running_service(tmp_path, images=0, job=None) as service, chromium() as browser:
        records, _ = synth_images(service.images, size=(450, 300))
        service.create_job("bright", records[:1])
        page = browser.new_page(viewport={"width": 1300, "height": 820})
        log_in(page, service.url, "alice")
        page.goto(f"{service.url}/jobs/bright/label")
        page.wait_for_selector('#canvas[data-state="ready"]')
        mean, spread = page.eval_on_selector("#canvas", CENTRE_STATS)
        assert 5 < mean < 200, mean

        page.locator("#brightness").fill("200")
        assert page.text_content("#brightness-value") == "200 %"
        brighter, _ = page.eval_on_selector("#canvas", CENTRE_STATS)
        assert brighter > mean * 1.5 or brighter > 250, (mean, brighter)

        page.locator("#brightness").fill("100")
        page.locator("#contrast").fill("300")
        _, wider = page.eval_on_selector("#canvas", CENTRE_STATS)
        assert wider > spread * 1.8, (spread, wider)

        drag(page, (50, 50), (150, 100))  # editing goes on while the image is adjusted
        assert page.locator("#box-list li").count() == 1
        page.click("#image-reset")
        back, again = page.eval_on_selector("#canvas", CENTRE_STATS)
        assert page.input_value("#contrast") == "100" and page.input_value("#brightness") == "100"
        assert abs(back - mean) < 3 and abs(again - spread) < 3  # the box drawn lies outside the sampled centre


def test_redo_with_ctrl_shift_z_and_ctrl_y(tmp_path):
    with running_service(tmp_path, images=0, job=None) as service, chromium() as browser:
        records, _ = synth_images(service.images, size=(450, 300))
        service.create_job("redo", records[:1])
        page = browser.new_page(viewport={"width": 1300, "height": 820})
        log_in(page, service.url, "alice")
        page.goto(f"{service.url}/jobs/redo/label")
        page.wait_for_selector('#canvas[data-state="ready"]')
        count = lambda: page.locator("#box-list li").count()  # noqa: E731

        drag(page, (50, 50), (150, 100))
        drag(page, (200, 150), (300, 160))
        assert count() == 2
        page.keyboard.press("Control+z")
        page.keyboard.press("Control+z")
        assert count() == 0
        page.keyboard.press("Control+Shift+z")  # redo, no longer a second undo
        assert count() == 1
        page.keyboard.press("Control+y")
        assert count() == 2
        page.keyboard.press("Control+y")  # nothing left to redo
        assert count() == 2
        page.keyboard.press("Control+z")
        page.click("#redo")
        assert count() == 2

        page.keyboard.press("Control+z")
        page.mouse.click(*canvas_point(page, 100, 60, 450, 300))  # a click selects the box: the redo step stays
        page.keyboard.press("Control+Shift+Z")
        assert count() == 2
        page.keyboard.press("Control+z")
        drag(page, (20, 200), (60, 260))  # a new edit ends what could be redone
        page.keyboard.press("Control+y")
        assert count() == 2 and "20,200" in page.locator("#box-list li").nth(1).text_content()


def test_file_names_box_numbers_past_nine_and_progress(tmp_path):
    with running_service(tmp_path, images=0, job=None) as service, chromium() as browser:
        records, _ = synth_images(service.images, size=(450, 300))
        many = [Box.from_xyxy(10 + 40 * k, 20 + 25 * k, 40 + 40 * k, 30 + 25 * k, score=0.9) for k in range(10)]
        with service.db.session() as session:
            spec = jobs.JobSpec.build(name="names", classes=["scratch"], annotators_per_image=1)
            jobs.create_job(session, spec, records[:3], prelabels={r.sha256: many for r in records[:3]})
        page = browser.new_page(viewport={"width": 1300, "height": 820})
        log_in(page, service.url, "alice")
        page.goto(f"{service.url}/jobs/names/label")
        page.wait_for_selector('#canvas[data-state="ready"]')

        info = page.text_content("#task-info")
        name = next(r.original_name for r in records if r.original_name in info)
        shas = {r.sha256 for r in records}
        assert name.endswith(".png") and not any(sha[:12] in info for sha in shas)
        assert "file:" not in info and str(service.settings.home) not in info
        assert page.get_attribute("#task-info", "title").endswith(name)
        assert page.text_content("#progress") == "0 of 3 images labelled in this job · 0 by you"

        page.keyboard.press("a")
        drag(page, (420, 280), (440, 295))
        items = page.locator("#box-list li")
        assert items.count() == 11
        padding, marker = page.eval_on_selector("#box-list", MARKER_ROOM)
        assert padding >= marker, (padding, marker)  # "10." and "11." (and "100.") are not cut off

        page.keyboard.press("Enter")
        wait_until(lambda: name not in page.text_content("#task-info"))
        page.wait_for_selector('#canvas[data-state="ready"]')
        assert page.text_content("#progress") == "1 of 3 images labelled in this job · 1 by you"
        with service.api("bob") as bob:
            task = bob.post("/api/v1/jobs/names/tasks/next").json()
            assert "image_uri" not in task and task["image_name"] in {r.original_name for r in records}
            assert task["progress"] == {"images": 3, "labelled": 1, "yours": 0}
            bob.post(f"/api/v1/tasks/{task['id']}/submit", json={"boxes": []}).raise_for_status()
        page.keyboard.press("a")
        page.keyboard.press("Enter")
        page.wait_for_selector('#canvas[data-state="done"]')
        with service.db.session() as session:
            assert [len(b) for b in session.scalars(select(Annotation.boxes).order_by(Annotation.id))] == [11, 0, 10]
