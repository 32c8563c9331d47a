"""Browser-session security of the labelling service: CSRF, cookies, the secret key, headers, templates.

A real service on a free port, driven over HTTP the way a browser drives it.
"""

from __future__ import annotations

import re

import httpx
import pytest

from labeling_helpers import PASSWORD, png
from labeling_web_helpers import login, running_service
from qiloop.core.errors import ConfigurationError
from qiloop.labeling.api.config import DEVELOPMENT_SECRET, WebOptions
from qiloop.labeling.web import STATIC, TEMPLATES

pytestmark = pytest.mark.slow


SAME_PASSWORD = {"new_password": PASSWORD, "confirm_password": PASSWORD}  # a change that keeps later logins working


def state_changing(ctx: dict) -> list[tuple[str, str, dict]]:
    """Every state-changing route, as the role allowed to call it would (path, session user, request kwargs)."""
    box = {"boxes": [{"class_id": 0, "left": 1, "top": 1, "width": 20, "height": 10}]}
    return [
        ("/api/v1/jobs/job-1/tasks/next", "bob", {}),
        (f"/api/v1/tasks/{ctx['task']}/submit", "alice", {"json": box}),
        (f"/api/v1/items/{ctx['approve']}/approve", "vera", {"json": {}}),
        (f"/api/v1/items/{ctx['reject']}/reject", "vera", {"json": {"reason": "loose"}}),
        ("/api/v1/admin/users", "ada", {"json": {"username": "mallory", "password": PASSWORD}}),
        ("/api/v1/admin/users/carl/disabled", "ada", {"json": {"disabled": True}}),
        ("/admin/users", "ada", {"data": {"username": "mallory2", "password": PASSWORD}}),
        ("/admin/users/carl/disabled", "ada", {"data": {"disabled": "1"}}),
        ("/admin/images", "ada", {"data": {"group": "g"}, "files": [("files", ("a.png", png(70), "image/png"))]}),
        ("/api/v1/admin/images", "ada", {"files": [("files", ("b.png", png(71), "image/png"))]}),
        ("/api/v1/admin/users/carl/role", "ada", {"json": {"role": "verifier"}}),
        ("/admin/users/carl/role", "ada", {"data": {"role": "labeler"}}),
        ("/api/v1/admin/users/carl/password", "ada", {"json": {"password": PASSWORD}}),
        ("/admin/users/carl/password", "ada", {"data": {"new_password": PASSWORD}}),
        ("/account/password", "bob", {"data": {"current_password": PASSWORD} | SAME_PASSWORD}),
        ("/api/v1/admin/jobs/job-1/close", "ada", {}),
        ("/api/v1/admin/jobs/job-1/reopen", "ada", {}),
        ("/admin/jobs/job-1/close", "ada", {"data": {}}),
        ("/admin/jobs/job-1/reopen", "ada", {"data": {}}),
        ("/api/v1/admin/jobs/job-1/cancel", "ada", {}),
        ("/admin/jobs/job-1/cancel", "ada", {"data": {"confirm": "yes"}}),
        ("/logout", "alice", {"data": {}}),
    ]


@pytest.fixture
def service(tmp_path):
    with running_service(tmp_path, images=4) as svc:
        task = svc.api("alice").post("/api/v1/jobs/job-1/tasks/next").json()
        carl = svc.api("carl")
        for _ in range(2):
            other = carl.post("/api/v1/jobs/job-1/tasks/next").json()
            carl.post(f"/api/v1/tasks/{other['id']}/submit", json={"boxes": []})
        first, second = (i["item_id"] for i in svc.api("vera").get("/api/v1/jobs/job-1/review").json())
        svc.ctx = {"task": task["id"], "approve": first, "reject": second}
        yield svc


def test_every_state_changing_route_refuses_a_missing_or_wrong_csrf_token(service):
    for path, user, kwargs in state_changing(service.ctx):
        client = service.browser(user)
        good = client.headers.pop("X-CSRF-Token")
        for token in (None, "", "forged-" + good[:10], good[:-1]):
            headers = {} if token is None else {"X-CSRF-Token": token}
            form = kwargs.get("data")
            extra = {"data": {**form, "csrf_token": token}} if form is not None and token is not None else {}
            response = client.post(path, headers=headers, **{**kwargs, **extra})
            assert response.status_code == 403, f"{path} as {user} with token {token!r}: {response.status_code}"
            assert "CsrfError" in response.text
        # Nothing changed: the same request with the right token still finds the state untouched and passes.
        response = client.post(path, headers={"X-CSRF-Token": good}, **kwargs)
        assert response.status_code in (200, 201, 303), f"{path}: {response.status_code} {response.text[:200]}"


def test_the_csrf_token_of_a_form_field_works_without_the_header(service):
    client = service.browser("ada")
    token = client.headers.pop("X-CSRF-Token")
    data = {"username": "newcomer", "password": PASSWORD, "role": "labeler", "csrf_token": token}
    assert client.post("/admin/users", data=data).status_code == 303
    assert "newcomer" in client.get("/admin/users").text


def test_login_needs_the_signed_form_token_of_its_own_cookie(service):
    client = httpx.Client(base_url=service.url)
    assert client.post("/login", data={"username": "alice", "password": PASSWORD}).status_code == 403
    other = httpx.Client(base_url=service.url)
    foreign = re.search(r'name="csrf_token" value="([^"]+)"', other.get("/login").text).group(1)
    client.get("/login")  # a nonce cookie of its own, but the token of another browser's form
    data = {"username": "alice", "password": PASSWORD, "csrf_token": foreign}
    assert client.post("/login", data=data).status_code == 403
    assert "qiloop_session" not in client.cookies


def test_session_cookie_flags_renewal_on_login_and_logout(service):
    client = httpx.Client(base_url=service.url)
    first = login(client, "alice")
    assert first.status_code == 303
    cookie = first.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http in development
    old = client.cookies["qiloop_session"]
    second = login(client, "alice")  # the browser still sends the old cookie: it is ended, a new one issued
    new = client.cookies["qiloop_session"]
    assert second.status_code == 303 and new != old
    stale = httpx.Client(base_url=service.url, cookies={"qiloop_session": old})
    assert stale.get("/api/v1/me").status_code == 401
    assert stale.get("/jobs").headers["location"].startswith("/login")
    assert client.get("/api/v1/me").json()["username"] == "alice"
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/jobs").text).group(1)
    assert client.post("/logout", data={"csrf_token": csrf}).status_code == 303
    again = httpx.Client(base_url=service.url, cookies={"qiloop_session": new})
    assert again.get("/api/v1/me").status_code == 401


def test_a_wrong_password_or_disabled_account_gets_no_session(service):
    client = httpx.Client(base_url=service.url)
    assert login(client, "alice", "wrong password!").status_code == 401
    assert "qiloop_session" not in client.cookies
    ada = service.browser("ada")
    assert ada.post("/api/v1/admin/users/bob/disabled", json={"disabled": True}).status_code == 200
    assert login(client, "bob").status_code == 401
    assert service.api("bob").get("/api/v1/me").status_code == 401  # the token stops too


def test_secure_cookies_and_hsts_behind_https(tmp_path):
    options = WebOptions(labeling_https=True)
    with running_service(tmp_path, images=1, options=options) as svc:
        client = httpx.Client(base_url=svc.url)
        form = client.get("/login")
        assert "Secure" in form.headers["set-cookie"]
        assert "max-age" in form.headers["strict-transport-security"]
        nonce = re.search(r"qiloop_login=([^;]+)", form.headers["set-cookie"]).group(1)
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        data = {"username": "alice", "password": PASSWORD, "csrf_token": token}
        # httpx, like a browser, keeps Secure cookies off plain http: hand the nonce back as a proxy would.
        response = client.post("/login", data=data, headers={"Cookie": f"qiloop_login={nonce}"})
        assert response.status_code == 303
        assert "Secure" in response.headers["set-cookie"] and "HttpOnly" in response.headers["set-cookie"]


def test_security_headers_on_pages_api_and_errors(service):
    client = service.browser("alice")
    for path in ("/login", "/jobs", "/jobs/job-1/label", "/api/v1/me", "/admin", "/api/v1/tasks/999999"):
        headers = client.get(path).headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["cache-control"] == "no-store"


@pytest.mark.parametrize("env", ["production", "staging"])
def test_the_development_secret_refuses_to_start_outside_development(env, monkeypatch):
    from qiloop.labeling.api.app import create_app
    from qiloop.settings import Settings

    monkeypatch.setenv("QILOOP_ENV", env)
    monkeypatch.delenv("QILOOP_LABELING_SECRET_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="development secret key"):
        create_app(Settings(home="/nonexistent-qiloop-home"))
    monkeypatch.setenv("QILOOP_LABELING_SECRET_KEY", "short")
    with pytest.raises(ConfigurationError, match="at least 32"):
        WebOptions().check()
    monkeypatch.setenv("QILOOP_LABELING_SECRET_KEY", "k" * 48)
    assert WebOptions().check().env == env
    monkeypatch.setenv("QILOOP_ENV", "development")
    monkeypatch.setenv("QILOOP_LABELING_SECRET_KEY", DEVELOPMENT_SECRET)
    assert WebOptions().check().env == "development"


def test_templates_and_scripts_hold_no_inline_script_style_or_html_sinks():
    for path in TEMPLATES.glob("*.html"):
        text = path.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), f"inline script in {path.name}"
        assert not re.search(r"\son[a-z]+\s*=", text), f"inline event handler in {path.name}"
        assert not re.search(r"\sstyle\s*=", text), f"inline style in {path.name}"
        assert "|safe" not in text.replace(" ", "") and "autoescape false" not in text
    for path in STATIC.glob("*.js"):
        text = path.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert sink not in text, f"{sink} in {path.name}"
