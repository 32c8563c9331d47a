"""The canvas box editor in Chromium: draw, move, resize, undo, delete, and draw a thin box while zoomed in.

Boxes are read back from the page's box list (image pixels) and, after
submitting, from the service database.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from browser_helpers import chromium, log_in, synth_images
from labeling_web_helpers import running_service
from qiloop.core.records import Box
from qiloop.labeling import jobs
from qiloop.labeling.models import Annotation

pytestmark = [pytest.mark.browser, pytest.mark.slow]


class View:
    """The editor's view transform, mirrored: image pixel -> screen point, fitted, then zoomed at the centre."""

    def __init__(self, page, width: int, height: int) -> None:
        script = "c => { const r = c.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; }"
        self.cx, self.cy, self.cw, self.ch = page.eval_on_selector("#canvas", script)
        self.scale = min(self.cw / width, self.ch / height) * 0.98
        self.ox, self.oy = (self.cw - width * self.scale) / 2, (self.ch - height * self.scale) / 2

    def zoom(self, factor: float) -> None:
        sx, sy = self.cw / 2, self.ch / 2
        self.ox, self.oy = sx - (sx - self.ox) * factor, sy - (sy - self.oy) * factor
        self.scale *= factor

    def at(self, x: float, y: float) -> tuple[float, float]:
        return self.cx + self.ox + x * self.scale, self.cy + self.oy + y * self.scale


def drag(page, view: View, start: tuple[float, float], end: tuple[float, float]) -> None:
    page.mouse.move(*view.at(*start))
    page.mouse.down()
    page.mouse.move(*view.at(*end), steps=5)
    page.mouse.up()


def listed(page) -> list[tuple[int, int, int, int]]:
    """The boxes in the page's list as (left, top, width, height), rounded to pixels."""
    out = []
    for text in page.locator("#box-list li").all_text_contents():
        left, top, width, height = re.search(r"(\d+),(\d+) (\d+)×(\d+)", text).groups()
        out.append((int(left), int(top), int(width), int(height)))
    return out


def close(got, expected, tolerance: int = 1) -> bool:
    return len(got) == len(expected) and all(
        all(abs(a - b) <= tolerance for a, b in zip(g, e, strict=True)) for g, e in zip(got, expected, strict=True)
    )


def test_draw_move_resize_undo_delete_and_zoom(tmp_path):
    with running_service(tmp_path, images=0, job=None) as service, chromium() as browser:
        records, _ = synth_images(service.images, size=(450, 300))
        with service.db.session() as session:
            jobs.create_job(session, jobs.JobSpec.build(name="editor", classes=["scratch", "dent"]), records[:1])
        page = browser.new_page(viewport={"width": 1300, "height": 820})
        log_in(page, service.url, "alice")
        page.goto(f"{service.url}/jobs/editor/label")
        page.wait_for_selector('#canvas[data-state="ready"]')
        view = View(page, 450, 300)

        drag(page, view, (50, 50), (150, 100))
        assert close(listed(page), [(50, 50, 100, 50)]), listed(page)
        drag(page, view, (100, 75), (120, 85))  # inside the box: move it
        assert close(listed(page), [(70, 60, 100, 50)]), listed(page)
        drag(page, view, (170, 110), (190, 130))  # its bottom-right corner: resize it
        assert close(listed(page), [(70, 60, 120, 70)]), listed(page)
        page.keyboard.press("Control+z")
        assert close(listed(page), [(70, 60, 100, 50)]), listed(page)
        before = page.locator("#box-list li").text_content()
        page.keyboard.press("ArrowRight")  # the selected box moves by one pixel, ten with Shift
        page.keyboard.press("Shift+ArrowDown")
        assert close(listed(page), [(71, 70, 100, 50)]), listed(page)
        moved = page.locator("#box-list li").text_content()
        assert moved != before
        page.keyboard.press("Delete")
        assert listed(page) == []
        page.keyboard.press("Control+z")
        assert page.locator("#box-list li").text_content() == moved

        page.keyboard.press("2")  # the second class for the next box
        page.keyboard.press("Escape")
        for _ in range(3):
            page.keyboard.press("+")
            view.zoom(1.25)
        drag(page, view, (200, 100), (260, 104))  # a 4-pixel-thin scratch, drawn zoomed in
        assert close(listed(page)[1:], [(200, 100, 60, 4)]), listed(page)
        assert "dent" in page.locator("#box-list li").nth(1).text_content()

        page.click("#submit")
        page.wait_for_selector('#canvas[data-state="done"]')
        with service.db.session() as session:
            stored = [Box(**b) for b in session.scalars(select(Annotation.boxes)).one()]
        assert [b.class_id for b in stored] == [0, 1]
        assert stored[1].height == pytest.approx(4, abs=0.5) and stored[1].width == pytest.approx(60, abs=0.5)
