"""Numbers in paths that no row can have: every route answers 404 or 422, never 500 with a traceback.

A real service on a free port. The table is every route of the app with a
path parameter (found from the app itself, so a new route is covered the day
it is added), each called with ids a 64-bit or 32-bit integer cannot hold, and
with ids no row has, through the API (token) and as a logged-in browser.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
from fastapi.routing import APIRoute

from labeling_web_helpers import running_service
from qiloop.core.errors import NotFoundError
from qiloop.labeling.api.app import create_app
from qiloop.labeling.api.config import WebOptions
from qiloop.labeling.db import MAX_ROW_ID, Database
from qiloop.labeling.tokens import revoke_tokens
from qiloop.settings import Settings

pytestmark = pytest.mark.slow

# Values that overflow a 64-bit or a 32-bit integer (PostgreSQL INTEGER), zero, and an in-range id no row has.
NUMBERS = [str(2**63), "1" + "0" * 40, str(-(2**63) - 1), str(MAX_ROW_ID + 1), "0", "999999"]
BODIES = {"submit": {"boxes": []}, "approve": {}, "reject": {"reason": "no"}, "set_disabled": {"disabled": True}}
BODIES |= {"set_role": {"role": "labeler"}, "reset_password": {"password": "x" * 12}}
FORMS = {
    "cancel_job": {"confirm": "yes"},
    "set_role": {"role": "labeler"},
    "reset_password": {"new_password": "correct horse battery staple"},
}
FORMS |= {"admin_set_disabled": {"disabled": "1"}}


def routes_with_path_parameters() -> list[tuple[str, str, str]]:
    """(method, path template, endpoint name) of every route of the service that has a path parameter."""
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home))
        db = Database.from_settings(settings)
        try:
            app = create_app(settings, WebOptions(), db=db, image_store=object(), label_store=object())
        finally:
            db.dispose()
    return [
        (method, route.path, route.endpoint.__name__)
        for route in flatten(app.routes)
        if "{" in route.path
        for method in sorted(route.methods - {"HEAD"})
    ]


def flatten(routes):
    """Routes, with included routers opened (newer FastAPI keeps them as one wrapper per router)."""
    for route in routes:
        if hasattr(route, "original_router"):  # the routers set their own prefixes, so paths are complete
            yield from flatten(route.original_router.routes)
        elif isinstance(route, APIRoute):
            yield route


ROUTES = routes_with_path_parameters()


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    with running_service(tmp_path_factory.mktemp("ids"), images=2) as svc:
        yield svc


@pytest.fixture(scope="module")
def clients(service):
    """The admin through the API (token) and as a logged-in browser (session cookie, CSRF token)."""
    api, browser = service.api("ada"), service.browser("ada")
    try:
        yield {"api": api, "browser": browser}
    finally:
        api.close()
        browser.close()


def test_the_table_holds_the_routes_with_integer_ids():
    names = {name for _, _, name in ROUTES}
    assert {"get_task", "submit", "approve", "reject"} <= names


@pytest.mark.parametrize("number", NUMBERS)
@pytest.mark.parametrize(("method", "path", "name"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_a_number_no_row_can_have_is_404_or_422_on_every_route(clients, method, path, name, number):
    url = re.sub(r"\{[^}]+\}", number, path)
    if path.startswith("/api/"):
        client, extra = clients["api"], {"json": BODIES.get(name, {})} if method == "POST" else {}
    else:
        client, extra = clients["browser"], {"data": FORMS.get(name, {})} if method == "POST" else {}
    response = client.request(method, url, **extra)
    assert response.status_code in (404, 422), (method, url, response.status_code, response.text[:300])
    assert "Traceback" not in response.text and "Internal Server Error" not in response.text
    if path.startswith("/api/"):
        body = response.json()
        assert body["message"] and body["hint"], body


def test_revoking_a_token_id_no_row_can_have_is_not_found(service):
    for token_id in (2**63, 2**64, -(2**63) - 1, MAX_ROW_ID + 1):
        with service.db.session() as session, pytest.raises(NotFoundError, match=f"no token {token_id}"):
            revoke_tokens(session, "ada", token_id)
