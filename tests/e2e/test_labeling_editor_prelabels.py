"""Pre-labels in the editor, in Chromium: merged near-duplicates, their scores, the threshold slider, hide/show.

A feedback image used to show a detector's every box of a thin scratch (16
boxes for two scratches) and ``A`` accepted them all. Here the service merges
near-duplicates before they are shown, the labeller sees each pre-label's score,
and only the pre-labels on screen (at or above the threshold, not hidden) are
accepted. What was submitted is read back from the service database.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from browser_helpers import chromium, log_in, synth_images
from labeling_web_helpers import running_service
from qiloop.core.records import Box
from qiloop.labeling import jobs
from qiloop.labeling.models import Annotation

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DOCS = Path(__file__).resolve().parents[2] / "docs"

# One thin scratch reported three times (a pixel or two apart: IoU about 0.3), and two more scratches.
THIN = [Box.from_xyxy(40, 60, 240, 64, score=0.9), Box.from_xyxy(42, 62, 241, 66, score=0.6),
        Box.from_xyxy(39, 59, 239, 63, score=0.45)]  # fmt: skip
FAINT = Box.from_xyxy(300, 200, 420, 203, score=0.3)
DIAGONAL = Box.from_xyxy(100, 120, 200, 260, score=0.55)


def wait_until(condition, timeout: float = 15.0) -> None:
    """Poll ``condition`` from here (the page's CSP allows no script evaluated from a string)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the page"
        time.sleep(0.05)


def listed(page) -> list[str]:
    return page.locator("#box-list li").all_text_contents()


def test_merged_pre_labels_with_scores_a_threshold_and_hide_show(tmp_path):
    out = DOCS if os.environ.get("QILOOP_DOCS_SCREENSHOTS") == "1" else tmp_path
    with running_service(tmp_path, images=0, job=None) as service, chromium() as browser:
        records, _ = synth_images(service.images, size=(450, 300))
        with service.db.session() as session:
            spec = jobs.JobSpec.build(name="pre", classes=["scratch"], annotators_per_image=1)
            jobs.create_job(session, spec, records[:1], prelabels={records[0].sha256: [*THIN, FAINT, DIAGONAL]})
        page = browser.new_page(viewport={"width": 1400, "height": 860})
        log_in(page, service.url, "alice")
        page.goto(f"{service.url}/jobs/pre/label")
        page.wait_for_selector('#canvas[data-state="ready"]')

        # Five stored pre-labels, three on screen: the thin scratch's three boxes are one, with the best score.
        assert "3 pre-label(s) (2 near-duplicate(s) merged)" in page.text_content("#status")
        shown = listed(page)
        assert len(shown) == 3, shown
        assert "score 0.90, 3 merged" in shown[0] and "39,59 202×7" in shown[0]  # the box around all three
        assert "score 0.55" in shown[1] and "score 0.30" in shown[2]
        page.screenshot(path=str(out / "labeling-prelabels.png"))

        # Hide and show them (H, or the switch); hidden ones are not accepted.
        page.keyboard.press("h")
        assert listed(page) == [] and not page.is_checked("#show-prelabels")
        assert page.is_disabled("#accept")
        page.keyboard.press("a")
        page.click("#show-prelabels")
        assert len(listed(page)) == 3 and page.is_checked("#show-prelabels")

        # The threshold hides the faint one; A accepts the two on screen.
        page.locator("#threshold").fill("0.5")
        assert page.text_content("#threshold-value") == "0.50"
        assert len(listed(page)) == 2 and "2 of 3 pre-label(s) shown" in page.text_content("#prelabel-count")
        page.locator("#canvas").focus()
        page.keyboard.press("a")
        accepted = listed(page)
        assert len(accepted) == 2 and not any("pre-label" in text for text in accepted), accepted

        dialogs = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.accept()))
        page.keyboard.press("Enter")  # nothing above the threshold is left unaccepted: no question asked
        page.wait_for_selector('#canvas[data-state="done"]')
        assert dialogs == []
        with service.db.session() as session:
            stored = sorted((Box(**b) for b in session.scalars(select(Annotation.boxes)).one()), key=lambda b: b.top)
        assert [b.xyxy for b in stored] == [pytest.approx((39, 59, 241, 66)), pytest.approx(DIAGONAL.xyxy)]

        # The threshold is kept in this browser for the next task.
        page.reload()
        page.wait_for_selector("#threshold")
        assert page.input_value("#threshold") == "0.5"


def test_submitting_with_pre_labels_not_accepted_asks_first(tmp_path):
    with running_service(tmp_path, images=0, job=None) as service, chromium() as browser:
        records, _ = synth_images(service.images, size=(450, 300))
        with service.db.session() as session:
            spec = jobs.JobSpec.build(name="ask", classes=["scratch"], annotators_per_image=1)
            jobs.create_job(session, spec, records[:2], prelabels={r.sha256: [DIAGONAL] for r in records[:2]})
        page = browser.new_page(viewport={"width": 1400, "height": 860})
        log_in(page, service.url, "alice")
        page.goto(f"{service.url}/jobs/ask/label")
        page.wait_for_selector('#canvas[data-state="ready"]')
        first = page.text_content("#task-info")
        answers = iter([False, True])
        dialogs = []

        def answer(dialog):
            dialogs.append(dialog.message)
            dialog.accept() if next(answers) else dialog.dismiss()

        page.on("dialog", answer)
        page.keyboard.press("Enter")
        assert dialogs == ["1 pre-label(s) not accepted will be left out. Submit anyway?"]
        assert page.text_content("#task-info") == first  # dismissed: still the same task
        page.keyboard.press("Enter")
        wait_until(lambda: page.text_content("#task-info") != first)
        with service.db.session() as session:
            assert session.scalars(select(Annotation.boxes)).one() == []
