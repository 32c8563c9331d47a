"""The task page when the job's last image is leased to someone else: it waits and asks again,
and takes the image once that lease runs out, instead of saying the job is done.
"""

from __future__ import annotations

import pytest

from browser_helpers import chromium, log_in
from labeling_web_helpers import running_service

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_task_page_waits_for_a_lease_held_by_another_worker(tmp_path):
    with running_service(tmp_path, images=1, lease_seconds=3) as service, chromium() as browser:
        with service.api("bob") as bob:
            held = bob.post("/api/v1/jobs/job-1/tasks/next")
            assert held.status_code == 200  # bob holds the only image and never submits
        page = browser.new_page()
        log_in(page, service.url, "alice")
        page.goto(f"{service.url}/jobs/job-1/label")
        page.wait_for_selector('#canvas[data-state="waiting"]', timeout=10_000)
        assert "leased to other workers" in page.text_content("#task-info")
        assert "Asking again" in page.text_content("#status")
        page.wait_for_selector('#canvas[data-state="ready"]', timeout=20_000)  # bob's lease ran out
        info = page.text_content("#task-info")
        assert info.startswith("Task ") and not info.startswith(f"Task {held.json()['id']} ")  # a new lease, alice's
