"""Authorization matrix: every route x method x role (x own or another worker's task) against a declared policy.

A real service on a free port; each role calls every route both with an API
token and with a logged-in browser session (CSRF token included, so what is
measured is authorization alone). The policy table below is the specification:
a new route without a row fails the test, and so does any mismatch.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.routing import APIRoute
from starlette.routing import Route

from labeling_helpers import PASSWORD, ingest_images, png
from labeling_web_helpers import running_service

pytestmark = pytest.mark.slow

ROLES = ("anonymous", "alice", "bob", "vera", "ada")  # alice holds the task; bob is another labeler
ALLOW = "allow"


def policy(anonymous, alice, bob, vera, ada) -> dict[str, object]:
    return dict(zip(ROLES, (anonymous, alice, bob, vera, ada), strict=True))


PUBLIC = policy(ALLOW, ALLOW, ALLOW, ALLOW, ALLOW)
ANY_USER_API = policy(401, ALLOW, ALLOW, ALLOW, ALLOW)
ANY_USER_PAGE = policy("login", ALLOW, ALLOW, ALLOW, ALLOW)
ANY_USER_FORM = policy(401, ALLOW, ALLOW, ALLOW, ALLOW)
OWN_TASK = policy(401, ALLOW, 404, 404, 404)  # nobody else, not even an admin, sees a worker's task
VERIFYING_IMAGE = policy(401, 404, 404, ALLOW, ALLOW)
VERIFIER_API = policy(401, 403, 403, ALLOW, ALLOW)
VERIFIER_PAGE = policy("login", 403, 403, ALLOW, ALLOW)
ADMIN_API = policy(401, 403, 403, 403, ALLOW)
ADMIN_PAGE = policy("login", 403, 403, 403, ALLOW)
ADMIN_FORM = policy(401, 403, 403, 403, ALLOW)
NOBODY = policy(403, 403, 403, 403, 403)
VERIFIER_PAGE_MISSING = policy("login", 403, 403, 404, 404)  # the console: allowed, and nothing there to show
ADMIN_FORM_MISSING = policy(401, 403, 403, 403, 404)


def new_user_json(role: str, via: str) -> dict:
    return {"json": {"username": f"new-{role}-{via}", "password": PASSWORD, "role": "labeler"}}


def new_user_form(role: str, via: str) -> dict:
    return {"data": {"username": f"form-{role}-{via}", "password": PASSWORD, "role": "labeler"}}


def wrong_current_password(role: str, via: str) -> dict:
    """A password change refused for its wrong current password (400): authorization passed, nothing changed."""
    return {"data": {"current_password": "not the password", "new_password": PASSWORD, "confirm_password": PASSWORD}}


def image_upload(role: str, via: str) -> dict:
    return {"files": [("files", (f"{role}-{via}.png", png(len(role) * 10 + len(via)), "image/png"))]}


# (method, route path, concrete path, policy, request kwargs by (role, via)); order matters only where a
# call changes state: images are read before tasks are submitted and items approved, logout comes last.
def cases(ctx: dict) -> list[tuple[str, str, str, dict, Callable[[str, str], dict]]]:
    none = lambda role, via: {}  # noqa: E731
    box = {"json": {"boxes": [{"class_id": 0, "left": 1, "top": 1, "width": 20, "height": 10}]}}
    return [
        ("GET", "/healthz", "/healthz", PUBLIC, none),
        ("GET", "/", "/", PUBLIC, none),  # a redirect: to the login, or to the user's start page
        ("GET", "/login", "/login", PUBLIC, none),
        ("GET", "/jobs", "/jobs", ANY_USER_PAGE, none),
        ("GET", "/jobs/{job}/label", "/jobs/job-1/label", ANY_USER_PAGE, none),
        ("GET", "/jobs/{job}/verify", "/jobs/job-1/verify", VERIFIER_PAGE, none),
        ("GET", "/admin", "/admin", ADMIN_PAGE, none),
        ("GET", "/admin/workers", "/admin/workers", ADMIN_PAGE, none),
        ("GET", "/admin/users", "/admin/users", ADMIN_PAGE, none),
        ("POST", "/admin/users", "/admin/users", ADMIN_FORM, new_user_form),
        ("GET", "/admin/images", "/admin/images", ADMIN_PAGE, none),
        ("POST", "/admin/images", "/admin/images", ADMIN_FORM, image_upload),
        # a job refused for its annotators (400) has passed authorization and changed nothing
        ("POST", "/admin/jobs", "/admin/jobs", ADMIN_FORM,
         lambda r, v: {"data": {"name": f"form-{r}-{v}", "annotators": "0"}}),
        ("POST", "/api/v1/admin/jobs", "/api/v1/admin/jobs", ADMIN_API,
         lambda r, v: {"json": {"name": f"api-{r}-{v}", "annotators_per_image": 0}}),
        ("GET", "/docs", "/docs", ANY_USER_PAGE, none),
        ("GET", "/api/v1/openapi.json", "/api/v1/openapi.json", ANY_USER_API, none),
        ("POST", "/admin/users/{username}/disabled", "/admin/users/carl/disabled", ADMIN_FORM,
         lambda r, v: {"data": {"disabled": "0"}}),
        ("GET", "/api/v1/me", "/api/v1/me", ANY_USER_API, none),
        ("GET", "/api/v1/jobs", "/api/v1/jobs", ANY_USER_API, none),
        ("GET", "/api/v1/images/{sha256}", f"/api/v1/images/{ctx['sha_a']}", OWN_TASK, none),
        ("GET", "/api/v1/images/{sha256}", f"/api/v1/images/{ctx['sha_v']}", VERIFYING_IMAGE, none),
        ("GET", "/api/v1/tasks/{task_id}", f"/api/v1/tasks/{ctx['task_a']}", OWN_TASK, none),
        ("POST", "/api/v1/jobs/{job}/tasks/next", "/api/v1/jobs/job-1/tasks/next", ANY_USER_API, none),
        ("POST", "/api/v1/tasks/{task_id}/submit", f"/api/v1/tasks/{ctx['task_a']}/submit", OWN_TASK,
         lambda r, v: box),
        ("GET", "/api/v1/jobs/{job}/review", "/api/v1/jobs/job-1/review", VERIFIER_API, none),
        ("POST", "/api/v1/items/{item_id}/approve", f"/api/v1/items/{ctx['item_v']}/approve", VERIFIER_API,
         lambda r, v: {"json": {}}),
        ("POST", "/api/v1/items/{item_id}/reject", f"/api/v1/items/{ctx['item_v']}/reject", VERIFIER_API,
         lambda r, v: {"json": {"reason": "too loose"}}),
        ("GET", "/api/v1/admin/jobs", "/api/v1/admin/jobs", ADMIN_API, none),
        ("GET", "/api/v1/admin/workers", "/api/v1/admin/workers", ADMIN_API, none),
        ("GET", "/api/v1/admin/users", "/api/v1/admin/users", ADMIN_API, none),
        ("POST", "/api/v1/admin/users", "/api/v1/admin/users", ADMIN_API, new_user_json),
        ("POST", "/api/v1/admin/images", "/api/v1/admin/images", ADMIN_API, image_upload),
        ("POST", "/api/v1/admin/users/{username}/disabled", "/api/v1/admin/users/carl/disabled", ADMIN_API,
         lambda r, v: {"json": {"disabled": False}}),
        ("GET", "/account/password", "/account/password", ANY_USER_PAGE, none),
        ("POST", "/account/password", "/account/password", ANY_USER_FORM, wrong_current_password),
        ("POST", "/api/v1/admin/users/{username}/role", "/api/v1/admin/users/carl/role", ADMIN_API,
         lambda r, v: {"json": {"role": "labeler"}}),
        ("POST", "/admin/users/{username}/role", "/admin/users/carl/role", ADMIN_FORM,
         lambda r, v: {"data": {"role": "labeler"}}),
        ("POST", "/api/v1/admin/users/{username}/password", "/api/v1/admin/users/carl/password", ADMIN_API,
         lambda r, v: {"json": {"password": PASSWORD}}),
        ("POST", "/admin/users/{username}/password", "/admin/users/carl/password", ADMIN_FORM,
         lambda r, v: {"data": {"new_password": PASSWORD}}),
        # job-1 is closed and reopened again; job-2 exists to be cancelled.
        ("POST", "/api/v1/admin/jobs/{job}/close", "/api/v1/admin/jobs/job-1/close", ADMIN_API, none),
        ("POST", "/api/v1/admin/jobs/{job}/reopen", "/api/v1/admin/jobs/job-1/reopen", ADMIN_API, none),
        ("POST", "/admin/jobs/{job}/close", "/admin/jobs/job-1/close", ADMIN_FORM, lambda r, v: {"data": {}}),
        ("POST", "/admin/jobs/{job}/reopen", "/admin/jobs/job-1/reopen", ADMIN_FORM, lambda r, v: {"data": {}}),
        ("POST", "/api/v1/admin/jobs/{job}/cancel", "/api/v1/admin/jobs/job-2/cancel", ADMIN_API, none),
        ("POST", "/admin/jobs/{job}/cancel", "/admin/jobs/job-2/cancel", ADMIN_FORM,
         lambda r, v: {"data": {"confirm": "yes"}}),
        ("GET", "/console", "/console", VERIFIER_PAGE, none),
        ("GET", "/loop", "/loop", VERIFIER_PAGE, none),
        ("GET", "/models", "/models", VERIFIER_PAGE, none),
        ("GET", "/models/{name}/{version}", "/models/scratch-detector/1", VERIFIER_PAGE_MISSING, none),
        ("POST", "/models/{name}/{version}/decision", "/models/scratch-detector/1/decision", ADMIN_FORM_MISSING,
         lambda r, v: {"data": {"decision": "approve"}}),
        ("GET", "/fleet", "/fleet", VERIFIER_PAGE, none),
        ("GET", "/fleet/devices/{device_id}", "/fleet/devices/cam-1", VERIFIER_PAGE_MISSING, none),
        ("GET", "/fleet/lines/{group}", "/fleet/lines/line-a", VERIFIER_PAGE_MISSING, none),
        ("POST", "/fleet/alerts/{alert_id}/resolve", "/fleet/alerts/1/resolve", ADMIN_FORM_MISSING,
         lambda r, v: {"data": {"resolution": "checked"}}),
        ("GET", "/results", "/results", VERIFIER_PAGE, none),
        ("GET", "/data", "/data", VERIFIER_PAGE, none),
        ("GET", "/data/{sha256}", f"/data/{ctx['sha_a']}", VERIFIER_PAGE, none),
        ("GET", "/console/images/{sha256}", f"/console/images/{ctx['sha_a']}", VERIFIER_PAGE, none),
        ("GET", "/console/images/{sha256}/thumb", f"/console/images/{ctx['sha_a']}/thumb", VERIFIER_PAGE, none),
        ("GET", "/metrics", "/metrics", ANY_USER_PAGE, none),
        ("POST", "/login", "/login", NOBODY, lambda r, v: {"data": {"username": "alice", "password": PASSWORD}}),
        ("POST", "/logout", "/logout", ANY_USER_FORM, lambda r, v: {"data": {}}),
    ]  # fmt: skip


def outcome(response) -> object:
    if response.is_redirect and response.headers["location"].startswith("/login?next="):
        return "login"
    if response.status_code in (401, 403, 404):
        return response.status_code
    assert response.status_code < 500, f"{response.request.method} {response.request.url}: {response.text}"
    return ALLOW


def test_every_route_for_every_role_matches_the_policy(tmp_path):
    with running_service(tmp_path, images=4) as service:
        alice, bob = service.api("alice"), service.api("bob")
        service.create_job("job-2", ingest_images(service.images, 1, first_seed=100))
        task_a = alice.post("/api/v1/jobs/job-1/tasks/next").json()
        task_b = bob.post("/api/v1/jobs/job-1/tasks/next").json()
        assert bob.post(f"/api/v1/tasks/{task_b['id']}/submit", json={"boxes": []}).json()["completed"]
        item_v = service.api("vera").get("/api/v1/jobs/job-1/review").json()[0]["item_id"]
        ctx = {"sha_a": task_a["image_sha256"], "task_a": task_a["id"], "sha_v": task_b["image_sha256"],
               "item_v": item_v}  # fmt: skip
        table = cases(ctx)

        declared = {(method, path) for method, path, *_ in table}
        served = {(method, route.path) for route in service_routes(service) for method in route.methods - {"HEAD"}}
        assert served == declared, f"undeclared: {served - declared}; stale: {declared - served}"

        clients = {("anonymous", "none"): service.api(None)}
        for user in ROLES[1:]:
            clients[(user, "token")] = service.api(user)
            clients[(user, "session")] = service.browser(user)
        mismatches, checked = [], 0
        for method, _route, path, expected, kwargs in table:
            for (role, via), client in clients.items():
                got = outcome(client.request(method, path, **kwargs(role, via)))
                checked += 1
                if got != expected[role]:
                    mismatches.append(f"{method} {path} as {role} via {via}: expected {expected[role]}, got {got}")
        assert checked == len(table) * len(clients)
        assert mismatches == [], "\n".join(mismatches)
        states = {j["name"]: j["state"] for j in service.api("ada").get("/api/v1/admin/jobs").json()}
        assert (states["job-1"], states["job-2"]) == ("open", "cancelled")  # the admin's calls took effect


def service_routes(service):
    """The app's routes (FastAPI routes and plain Starlette routes, not the static mount nor the schema)."""
    from qiloop.labeling.api.app import create_app

    app = create_app(service.settings, db=service.db, image_store=service.images, label_store=service.labels)
    return [r for r in flatten(app.routes) if not r.path.startswith("/openapi")]


def flatten(routes):
    """Routes, with included routers opened (newer FastAPI keeps them as one wrapper per router)."""
    for route in routes:
        if hasattr(route, "original_router"):  # the routers set their own prefixes, so paths are complete
            yield from flatten(route.original_router.routes)
        elif isinstance(route, (APIRoute, Route)):
            yield route
