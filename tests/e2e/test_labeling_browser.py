"""The labelling UI end to end in Chromium: draw a box with the mouse, submit, verify, approve, see the admin view.

A real service on a free port, real databases and stores, Debian's Chromium
driven by Playwright. With ``QILOOP_DOCS_SCREENSHOTS=1`` the screenshots go to
``docs/labeling-{task,verify,admin}.png``; otherwise to the test's temp folder.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from browser_helpers import canvas_point, chromium, log_in, synth_images
from labeling_web_helpers import running_service
from qiloop.core.records import Box, LabelStatus
from qiloop.labeling import jobs
from qiloop.labeling.models import Annotation, User
from qiloop.sim.truth import Noise, noisy_boxes

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DOCS = Path(__file__).resolve().parents[2] / "docs"
INSTRUCTIONS = "Draw a tight box around every scratch, however thin.\nIgnore engraving and dust."


def wait_until(condition, timeout: float = 15.0) -> None:
    """Poll ``condition`` (page functions cannot be evaluated as strings under the page's CSP)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the page"
        time.sleep(0.05)


def shots(tmp_path: Path) -> Path:
    return DOCS if os.environ.get("QILOOP_DOCS_SCREENSHOTS") == "1" else tmp_path


def test_label_verify_and_admin_in_chromium(tmp_path):
    import numpy as np

    out = shots(tmp_path)
    with running_service(tmp_path, images=0, job=None) as service, chromium() as browser:
        records, truth = synth_images(service.images)
        target = records[0]
        prelabel = Box.from_xyxy(*truth[target.sha256][0].xyxy, score=0.41)
        with service.db.session() as session:
            spec = jobs.JobSpec.build(name="tags-demo", classes=["scratch"], instructions=INSTRUCTIONS)
            jobs.create_job(session, spec, records, prelabels={target.sha256: [prelabel]})

        page = browser.new_page(viewport={"width": 1400, "height": 860})
        log_in(page, service.url, "alice")
        page.goto(f"{service.url}/jobs/tags-demo/label")
        page.wait_for_selector('#canvas[data-state="ready"]')
        task = page.evaluate("fetch('/api/v1/me').then(r => r.json())")
        assert task["username"] == "alice"
        info = page.text_content("#task-info")
        sha = target.sha256 if target.original_name in info else None
        assert sha is not None, f"alice got another image first: {info}"
        assert "1 pre-label" in page.text_content("#status")
        assert INSTRUCTIONS.splitlines()[0] in page.text_content(".instructions")

        # Two other workers label the same image over the API (the queue fills partly done images first).
        rng = np.random.default_rng(3)
        for worker in ("bob", "carl"):
            client = service.api(worker)
            task = client.post("/api/v1/jobs/tags-demo/tasks/next").json()
            assert task["image_sha256"] == sha
            boxes = noisy_boxes(truth[sha], target.width, target.height, Noise(0.03, 0.0, 0.0), rng)
            body = {"boxes": [b.model_dump(exclude={"score"}) for b in boxes]}
            assert client.post(f"/api/v1/tasks/{task['id']}/submit", json=body).status_code == 200

        # Draw a box with the mouse, accept the pre-label with the keyboard, then submit with Enter.
        drawn = truth[sha][1] if len(truth[sha]) > 1 else Box.from_xyxy(20, 20, 80, 60)
        x1, y1 = canvas_point(page, drawn.left, drawn.top, target.width, target.height)
        x2, y2 = canvas_point(page, drawn.right, drawn.bottom, target.width, target.height)
        page.mouse.move(x1, y1)
        page.mouse.down()
        page.mouse.move((x1 + x2) / 2, (y1 + y2) / 2, steps=4)
        page.mouse.move(x2, y2, steps=4)
        page.mouse.up()
        page.screenshot(path=str(out / "labeling-task.png"))  # the pre-label dashed, the drawn box solid
        page.keyboard.press("a")
        assert page.locator("#box-list li").count() == 2
        page.keyboard.press("Enter")
        wait_until(lambda: target.original_name not in page.text_content("#task-info"))  # the next task is on screen

        with service.db.session() as session:
            alice = session.scalar(select(User.id).where(User.username == "alice"))
            stored = session.scalars(select(Annotation).where(Annotation.worker_id == alice)).one()
            boxes = sorted((Box(**b) for b in stored.boxes), key=lambda b: b.left != prelabel.left)
        assert boxes[0].xyxy == pytest.approx(prelabel.xyxy, abs=0.01)
        assert boxes[1].xyxy == pytest.approx(drawn.xyxy, abs=1.5)  # a mouse drag, to within a screen pixel

        # The verifier sees the consolidated boxes with three annotators' overlays and approves.
        verifier = browser.new_page(viewport={"width": 1400, "height": 860})
        log_in(verifier, service.url, "vera")
        verifier.goto(f"{service.url}/jobs/tags-demo/verify")
        verifier.wait_for_selector('#canvas[data-state="ready"]')
        assert verifier.locator("#annotators input[type=checkbox]").count() == 3
        assert verifier.locator("#queue li").count() == 1
        verifier.screenshot(path=str(out / "labeling-verify.png"))
        verifier.click("#approve")
        verifier.wait_for_selector('#canvas[data-state="done"]')
        [record] = [r for r in service.labels.latest() if r.image_sha256 == sha]
        assert record.status == LabelStatus.APPROVED and record.verifier == "vera"
        assert set(record.annotators) == {"alice", "bob", "carl"} and record.annotations

        admin = browser.new_page(viewport={"width": 1400, "height": 700})
        log_in(admin, service.url, "ada")
        assert admin.url.endswith("/admin")
        row = admin.locator("#jobs tbody tr", has_text="tags-demo")
        assert row.count() == 1 and "25 %" in row.text_content()
        admin.screenshot(path=str(out / "labeling-admin.png"))
        admin.goto(f"{service.url}/admin/workers")
        assert admin.locator("#workers tbody tr", has_text="alice").count() == 1
