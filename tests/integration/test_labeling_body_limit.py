"""The body limit on JSON and form routes: 413 whether the size is declared (Content-Length) or streamed (chunked).

A real service on a free port with a 1 MiB limit; httpx sends a generator as a
chunked body with no Content-Length, so the server only learns the size by
counting. FastAPI turns any failure while reading a JSON body into 400 "error
parsing the body"; the limit must still answer the documented 413.
"""

from __future__ import annotations

import json

import pytest

from labeling_web_helpers import running_service
from qiloop.labeling.api.config import WebOptions

pytestmark = pytest.mark.slow

LIMIT = 1024 * 1024
# (path, JSON body with one long text field); each route reads a JSON body
JSON_ROUTES = [
    ("/api/v1/tasks/1/submit", "boxes"),
    ("/api/v1/items/1/reject", "reason"),
    ("/api/v1/items/1/approve", "boxes"),
    ("/api/v1/admin/users", "username"),
    ("/api/v1/admin/users/alice/role", "role"),
]


def over_limit(field: str) -> bytes:
    return json.dumps({field: "a" * (LIMIT + 10)}).encode()


def chunked(data: bytes, size: int = 64 * 1024):
    """The bytes as a generator: httpx sends it with Transfer-Encoding: chunked and no Content-Length."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    options = WebOptions(labeling_max_upload_mib=LIMIT / 1024 / 1024)
    with running_service(tmp_path_factory.mktemp("limit"), images=2, options=options) as svc:
        yield svc


@pytest.mark.parametrize("sent", ["chunked", "declared"])
@pytest.mark.parametrize(("path", "field"), JSON_ROUTES)
@pytest.mark.parametrize("user", ["vera", "ada", None])
def test_an_over_limit_json_body_is_413_however_it_is_sent(service, path, field, sent, user):
    body = over_limit(field)
    content = chunked(body) if sent == "chunked" else body
    with service.api(user) as client:
        response = client.post(path, content=content, headers={"Content-Type": "application/json"})
        assert response.status_code == 413, (path, sent, response.status_code, response.text[:200])
        assert "above the limit of 1.0 MiB" in response.json()["message"]
        assert "QILOOP_LABELING_MAX_UPLOAD_MIB" in response.json()["hint"]
        assert client.get("/api/v1/me").status_code == (401 if user is None else 200)  # the service carries on


def test_a_chunked_body_under_the_limit_is_read_as_usual(service):
    with service.api("ada") as ada:
        body = json.dumps({"username": "dora", "password": "correct horse battery", "role": "labeler"}).encode()
        response = ada.post(
            "/api/v1/admin/users", content=chunked(body, 7), headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 201, response.text
        broken = ada.post(
            "/api/v1/admin/users", content=chunked(b'{"username": ', 5), headers={"Content-Type": "application/json"}
        )
        assert broken.status_code in (400, 422), broken.text  # malformed JSON is still the client's error, not 413


def test_an_over_limit_chunked_form_on_a_page_is_413_with_the_error_page(service):
    browser = service.browser("ada")  # logged in, with the session's CSRF token
    form = b"username=" + b"a" * (LIMIT + 10) + b"&role=labeler"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    try:
        response = browser.post("/admin/users", content=chunked(form), headers=headers)
    finally:
        browser.close()
    assert response.status_code == 413 and "above the limit of 1.0 MiB" in response.text
    assert "text/html" in response.headers["content-type"]
