"""The admin creates jobs in the browser, and the JSON API's documentation is served behind the login.

The new-job form calls what ``qiloop labeling jobs create --from`` calls; a
refused job shows why with the form as it was filled in. ``/docs`` is rendered
on the server from the OpenAPI schema (no script, nothing from a CDN, so it
works offline and under the page's Content-Security-Policy).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from browser_helpers import chromium, log_in
from labeling_web_helpers import running_service
from qiloop.labeling.jobs import get_job, summary

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DOCS = Path(__file__).resolve().parents[2] / "docs"


def create(page, name: str, **fields: str) -> None:
    page.fill('#new-job-form input[name="name"]', name)
    for field, value in fields.items():
        page.fill(f'#new-job-form [name="{field}"]', value)
    page.click('#new-job-form button[type="submit"]')
    page.wait_for_load_state("networkidle")


def test_admin_creates_jobs_from_the_jobs_page(tmp_path):
    out = DOCS if os.environ.get("QILOOP_DOCS_SCREENSHOTS") == "1" else tmp_path
    with running_service(tmp_path, images=4, job=None) as service, chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        log_in(page, service.url, "ada")
        page.goto(f"{service.url}/admin")
        assert page.is_visible("#new-job-form")
        assert "create one below" in page.text_content("#jobs")
        page.check('#new-job-form input[name="source"][value="unlabeled"]')
        create(page, "week-47", limit="3", annotators="2", instructions="Every scratch, however faint.")
        assert page.url.endswith("/admin?created=week-47")
        assert "Job week-47 created." in page.text_content("#created")
        row = page.locator("#jobs tbody tr", has_text="week-47")
        assert row.count() == 1 and row.locator("td").nth(4).text_content() == "3"
        page.screenshot(path=str(out / "labeling-admin-new-job.png"), full_page=True)
        with service.db.session() as session:
            job = get_job(session, "week-47")
            assert (job.annotators_per_image, job.instructions) == (2, "Every scratch, however faint.")
            assert job.classes == list(service.settings.classes) and summary(session, job).images == 3

        create(page, "week-47", instructions="kept as typed")
        assert "already exists" in page.text_content("#job-error")
        assert page.input_value('#new-job-form [name="instructions"]') == "kept as typed"
        create(page, "bad name!")
        assert "invalid job" in page.text_content("#job-error")
        dialogs = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        payload = '"><img src=x onerror=alert(1)><script>alert(2)</script>'
        create(page, payload, instructions=payload)  # refused, and echoed back as text only
        assert "invalid job" in page.text_content("#job-error")
        assert page.input_value('#new-job-form input[name="name"]') == payload
        assert page.input_value('#new-job-form [name="instructions"]') == payload
        assert page.locator("main img, main script").count() == 0 and dialogs == []
        create(page, "rest", classes="scratch, dent")
        assert page.url.endswith("/admin?created=rest")
        with service.db.session() as session:
            rest = get_job(session, "rest")
            assert rest.classes == ["scratch", "dent"] and summary(session, rest).images == 1  # what was left
        create(page, "empty")
        assert "no image to label" in page.text_content("#job-error")

        # The same through the JSON API, for scripts.
        with service.api("ada") as ada, service.api("alice") as alice:
            assert alice.post("/api/v1/admin/jobs", json={"name": "x"}).status_code == 403
            refused = ada.post("/api/v1/admin/jobs", json={"name": "fb", "source": "feedback"})
            assert refused.status_code == 404 and refused.json()["hint"]
            assert ada.post("/api/v1/admin/jobs", json={"name": "x", "source": "camera"}).status_code == 400


def test_the_api_documentation_is_served_behind_the_login_and_works_offline(tmp_path):
    with running_service(tmp_path, images=1) as service, chromium() as browser:
        page = browser.new_page()
        page.goto(f"{service.url}/docs")
        assert "/login" in page.url  # not for anonymous callers
        log_in(page, service.url, "alice")
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        response = page.goto(f"{service.url}/docs")
        assert response.status == 200 and "default-src 'none'" in response.headers["content-security-policy"]
        assert all(url.startswith(service.url) for url in requests), requests  # nothing from a CDN
        submit = page.locator("section.api-op", has_text="/api/v1/tasks/{task_id}/submit")
        assert submit.count() == 1 and "POST" in submit.text_content() and "BoxesIn" in submit.text_content()
        assert page.locator("#model-TaskOut").count() == 1
        assert "image_name" in page.text_content("#model-TaskOut")
        page.click('a[href="#model-BoxesIn"]')
        assert page.url.endswith("#model-BoxesIn")

        with service.api(None) as anonymous, service.api("alice") as alice:
            assert anonymous.get("/api/v1/openapi.json").status_code == 401
            assert anonymous.get("/openapi.json").status_code == 404
            schema = alice.get("/api/v1/openapi.json").json()
        assert "/api/v1/admin/jobs" in schema["paths"] and "post" in schema["paths"]["/api/v1/admin/jobs"]
        assert all(not path.startswith(("/admin", "/docs")) for path in schema["paths"])  # pages are not the API
