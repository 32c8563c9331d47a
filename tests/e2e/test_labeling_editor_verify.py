"""Two annotators and the verifier, in Chromium: every box of either is kept, near-duplicates are named first.

Two annotators of one image who disagree have no majority, so every box of
either reaches the verifier; two boxes of one scratch drawn too differently to
be merged (half a diagonal scratch and the whole of it) are named on the page,
and approving them both asks first.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from browser_helpers import chromium, log_in, synth_images
from labeling_web_helpers import running_service
from qiloop.core.records import Box

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DOCS = Path(__file__).resolve().parents[2] / "docs"

WHOLE = Box.from_xyxy(50, 50, 150, 150)  # a diagonal scratch
HALF = Box.from_xyxy(50, 50, 100, 100)  # its first half, as the other annotator saw it (IoU 0.25)
OTHER = Box.from_xyxy(300, 50, 400, 60)


def submit(service, worker: str, boxes: list[Box]) -> None:
    with service.api(worker) as client:
        task = client.post("/api/v1/jobs/pair/tasks/next").json()
        body = {"boxes": [b.model_dump(exclude={"score"}) for b in boxes]}
        client.post(f"/api/v1/tasks/{task['id']}/submit", json=body).raise_for_status()


def test_two_annotators_boxes_all_reach_the_verifier_who_is_warned_of_near_duplicates(tmp_path):
    with running_service(tmp_path, images=0, job=None) as service, chromium() as browser:
        records, _ = synth_images(service.images, size=(450, 300))
        service.create_job("pair", records[:1], annotators_per_image=2)
        submit(service, "alice", [WHOLE])
        submit(service, "bob", [HALF, OTHER])

        with service.api("vera") as vera:
            (item,) = vera.get("/api/v1/jobs/pair/review").json()
        assert [sorted(b["annotators"]) for b in item["boxes"]] == [["bob"], ["alice"], ["bob"]]  # HALF, WHOLE, OTHER
        assert [(d["first"], d["second"]) for d in item["near_duplicates"]] == [(0, 1)]
        assert item["image_name"] == records[0].original_name and "image_uri" not in item

        page = browser.new_page(viewport={"width": 1400, "height": 860})
        log_in(page, service.url, "vera")
        page.goto(f"{service.url}/jobs/pair/verify")
        page.wait_for_selector('#canvas[data-state="ready"]')
        assert records[0].original_name in page.text_content("#item-info")
        assert records[0].original_name in page.text_content("#queue li")
        assert page.is_visible("#duplicates")
        assert "boxes 1 and 2 (100 % overlap)" in page.text_content("#duplicates")
        assert page.locator("#box-list li.duplicate").count() == 2
        out = DOCS if os.environ.get("QILOOP_DOCS_SCREENSHOTS") == "1" else tmp_path
        page.screenshot(path=str(out / "labeling-near-duplicates.png"))

        dialogs = []
        page.once("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.click("#approve")
        assert len(dialogs) == 1 and "boxes 1 and 2" in dialogs[0]
        assert "Not approved" in page.text_content("#status")
        assert service.labels.latest() == []

        page.locator("#box-list li").nth(0).click()  # the half: delete it, keep the whole scratch
        page.locator("#canvas").focus()
        page.keyboard.press("Delete")
        assert page.is_hidden("#duplicates") and page.locator("#box-list li").count() == 2
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.click("#approve")
        page.wait_for_selector('#canvas[data-state="done"]')
        assert len(dialogs) == 1  # nothing was asked the second time
        (record,) = service.labels.latest()
        assert sorted(b.xyxy for b in record.annotations) == [WHOLE.xyxy, OTHER.xyxy]
        assert set(record.annotators) == {"alice", "bob"}
