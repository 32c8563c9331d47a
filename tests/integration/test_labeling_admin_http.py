"""Job lifecycle, accounts and the wait-or-stop answer of the task queue, over real HTTP.

A real service on a free port; admins act through the JSON API and through
the admin pages' forms (CSRF token included), workers through their tokens.
"""

from __future__ import annotations

import re
import time

import httpx
import pytest

from labeling_helpers import PASSWORD
from labeling_web_helpers import login, running_service

pytestmark = pytest.mark.slow

NEW = "a much better passphrase"
_FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def form_token(client: httpx.Client, path: str) -> str:
    return _FORM_TOKEN.search(client.get(path).text).group(1)


def test_admin_closes_reopens_and_cancels_a_job_through_the_api(tmp_path):
    with running_service(tmp_path, images=3) as service:
        ada, alice, bob = service.api("ada"), service.api("alice"), service.api("bob")
        held = alice.post("/api/v1/jobs/job-1/tasks/next").json()

        closed = ada.post("/api/v1/admin/jobs/job-1/close")
        expected = {"name": "job-1", "state": "closed", "previous": "open", "changed": True, "leases_ended": 0}
        assert closed.status_code == 200 and {k: closed.json()[k] for k in expected} == expected
        refused = bob.post("/api/v1/jobs/job-1/tasks/next")
        assert refused.status_code == 409
        assert refused.json()["message"] == "the job 'job-1' is closed: it hands out no new tasks"
        assert "reopen" in refused.json()["hint"]
        assert [j["state"] for j in ada.get("/api/v1/admin/jobs").json()] == ["closed"]
        assert alice.get("/api/v1/jobs").json() == []  # workers list open jobs only
        assert alice.post("/api/v1/jobs/job-1/tasks/next").json()["id"] == held["id"]  # hers to finish
        done = alice.post(f"/api/v1/tasks/{held['id']}/submit", json={"boxes": []})
        assert done.status_code == 200 and done.json()["completed"] is True

        assert ada.post("/api/v1/admin/jobs/job-1/reopen").json()["state"] == "open"
        again = bob.post("/api/v1/jobs/job-1/tasks/next").json()
        cancelled = ada.post("/api/v1/admin/jobs/job-1/cancel").json()
        assert (cancelled["state"], cancelled["leases_ended"]) == ("cancelled", 1)
        late = bob.post(f"/api/v1/tasks/{again['id']}/submit", json={"boxes": []})
        assert late.status_code == 409 and "cancelled" in late.json()["message"]
        assert bob.post("/api/v1/jobs/job-1/tasks/next").status_code == 409
        assert service.api("vera").get("/api/v1/jobs/job-1/review").status_code == 409
        assert ada.post("/api/v1/admin/jobs/job-1/reopen").status_code == 409
        assert ada.post("/api/v1/admin/jobs/nope/close").status_code == 404
        assert alice.post("/api/v1/admin/jobs/job-1/close").status_code == 403


def test_an_empty_queue_says_wait_while_others_hold_leases_and_stop_when_nothing_is_left(tmp_path):
    with running_service(tmp_path, images=1, annotators_per_image=1, lease_seconds=2.0) as service:
        alice, bob = service.api("alice"), service.api("bob")
        held = alice.post("/api/v1/jobs/job-1/tasks/next").json()
        wait = bob.post("/api/v1/jobs/job-1/tasks/next")
        assert wait.status_code == 204 and wait.content == b""
        assert 1 <= int(wait.headers["retry-after"]) <= 2
        time.sleep(int(wait.headers["retry-after"]) + 0.2)
        taken = bob.post("/api/v1/jobs/job-1/tasks/next")
        assert taken.status_code == 200 and taken.json()["image_sha256"] == held["image_sha256"]
        assert bob.post(f"/api/v1/tasks/{taken.json()['id']}/submit", json={"boxes": []}).json()["completed"]
        for worker in (alice, bob, service.api("carl")):
            done = worker.post("/api/v1/jobs/job-1/tasks/next")
            assert done.status_code == 204 and "retry-after" not in done.headers


def test_admin_changes_roles_and_resets_passwords_through_api_and_forms(tmp_path):
    with running_service(tmp_path, images=1) as service:
        ada, carl_api = service.api("ada"), service.api("carl")
        assert carl_api.get("/api/v1/jobs/job-1/review").status_code == 403
        assert ada.post("/api/v1/admin/users/carl/role", json={"role": "verifier"}).json()["role"] == "verifier"
        assert carl_api.get("/api/v1/jobs/job-1/review").status_code == 200
        bad = ada.post("/api/v1/admin/users/carl/role", json={"role": "owner"})
        assert bad.status_code == 400 and "unknown role" in bad.json()["message"]
        last = ada.post("/api/v1/admin/users/ada/role", json={"role": "labeler"})
        assert last.status_code == 409 and "last enabled admin" in last.json()["message"]

        carl = service.browser("carl")
        reset = ada.post("/api/v1/admin/users/carl/password", json={"password": NEW})
        assert reset.json() == {"username": "carl", "sessions_ended": 1}
        assert carl.get("/api/v1/me").status_code == 401
        assert login(httpx.Client(base_url=service.url), "carl", NEW).status_code == 303
        short = ada.post("/api/v1/admin/users/carl/password", json={"password": "short"})
        assert short.status_code == 400 and "shorter" in short.json()["message"]

        admin_page = service.browser("ada")
        token = form_token(admin_page, "/admin/users")
        assert 'action="/admin/users/carl/role"' in admin_page.get("/admin/users").text
        moved = admin_page.post("/admin/users/carl/role", data={"role": "admin", "csrf_token": token})
        assert moved.status_code == 303 and moved.headers["location"] == "/admin/users"
        assert {u["username"]: u["role"] for u in ada.get("/api/v1/admin/users").json()}["carl"] == "admin"
        form = {"new_password": PASSWORD, "csrf_token": token}
        assert admin_page.post("/admin/users/carl/password", data=form).status_code == 303
        assert login(httpx.Client(base_url=service.url), "carl").status_code == 303
        refused = admin_page.post("/admin/users/carl/password", data={"new_password": "x", "csrf_token": token})
        assert refused.status_code == 400 and "shorter than 8" in refused.text


def test_admin_page_forms_close_reopen_and_cancel_with_confirmation(tmp_path):
    with running_service(tmp_path, images=2) as service:
        admin_page = service.browser("ada")
        page = admin_page.get("/admin").text
        assert 'action="/admin/jobs/job-1/close"' in page and 'action="/admin/jobs/job-1/cancel"' in page
        token = form_token(admin_page, "/admin")
        closed = admin_page.post("/admin/jobs/job-1/close", data={"csrf_token": token})
        assert closed.status_code == 303 and closed.headers["location"] == "/admin"
        page = admin_page.get("/admin").text
        assert "<td>closed</td>" in page and 'action="/admin/jobs/job-1/reopen"' in page

        # Verifiers still see a closed job (to verify it), labellers do not; nobody gets a Label link.
        vera_jobs, alice_jobs = service.browser("vera").get("/jobs").text, service.browser("alice").get("/jobs").text
        assert "job-1" in vera_jobs and "/jobs/job-1/verify" in vera_jobs and "/jobs/job-1/label" not in vera_jobs
        assert "job-1" not in alice_jobs

        assert admin_page.post("/admin/jobs/job-1/reopen", data={"csrf_token": token}).status_code == 303
        unconfirmed = admin_page.post("/admin/jobs/job-1/cancel", data={"csrf_token": token})
        assert unconfirmed.status_code == 400 and "not cancelled" in unconfirmed.text
        assert service.api("ada").get("/api/v1/admin/jobs").json()[0]["state"] == "open"
        done = admin_page.post("/admin/jobs/job-1/cancel", data={"csrf_token": token, "confirm": "yes"})
        assert done.status_code == 303
        page = admin_page.get("/admin").text
        assert "<td>cancelled</td>" in page and "/admin/jobs/job-1/" not in page


def test_change_password_page_renews_this_session_and_ends_the_others(tmp_path):
    with running_service(tmp_path, images=1) as service:
        alice, other = service.browser("alice"), service.browser("alice")
        page = alice.get("/account/password")
        assert page.status_code == 200 and 'name="current_password"' in page.text
        token = form_token(alice, "/account/password")
        form = {"current_password": PASSWORD, "new_password": NEW, "confirm_password": NEW, "csrf_token": token}

        wrong = alice.post("/account/password", data=form | {"current_password": "not it at all"})
        assert wrong.status_code == 400 and "the current password is wrong" in wrong.text
        differ = alice.post("/account/password", data=form | {"confirm_password": NEW + "!"})
        assert differ.status_code == 400 and "the two new passwords differ" in differ.text
        short = alice.post("/account/password", data=form | {"new_password": "short", "confirm_password": "short"})
        assert short.status_code == 400 and "shorter than 8" in short.text
        assert other.get("/api/v1/me").status_code == 200  # refused changes end nothing

        old_cookie = alice.cookies["qiloop_session"]
        changed = alice.post("/account/password", data=form)
        assert changed.status_code == 303 and changed.headers["location"] == "/account/password?changed=true"
        assert "HttpOnly" in changed.headers["set-cookie"]
        assert alice.cookies["qiloop_session"] != old_cookie
        assert "Your password was changed" in alice.get(changed.headers["location"]).text
        assert alice.get("/api/v1/me").json()["username"] == "alice"  # this browser carries on
        assert other.get("/api/v1/me").status_code == 401  # every other session ended
        stale = httpx.Client(base_url=service.url, cookies={"qiloop_session": old_cookie})
        assert stale.get("/api/v1/me").status_code == 401
        assert login(httpx.Client(base_url=service.url), "alice").status_code == 401
        assert login(httpx.Client(base_url=service.url), "alice", NEW).status_code == 303
        assert service.api("alice").get("/api/v1/me").status_code == 200  # API tokens are separate credentials
        anonymous = httpx.Client(base_url=service.url).get("/account/password")
        assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
