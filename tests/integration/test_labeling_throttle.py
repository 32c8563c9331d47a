"""Password guessing throttled over real HTTP: the login form and the change-password page, SQLite and PostgreSQL.

A real service on a free port, with a window of a few seconds. Bursts of wrong
passwords are sent in parallel, each from a browser of its own, so that the
count is seen to hold while checks run side by side. On SQLite the checks still
take turns (each holds the write lock while it hashes, about 0.25 s on two busy
cores), which is why the window is 4 s rather than 2.
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import httpx
import pytest

from labeling_helpers import PASSWORD, labeling_db_url
from labeling_web_helpers import login, running_service
from qiloop.labeling.api.config import WebOptions

pytestmark = pytest.mark.slow

WINDOW_S = 4.0
SHORT = WebOptions(labeling_login_window_minutes=WINDOW_S / 60)
REFUSAL = re.compile(r'<p class="error" role="alert">too many failed attempts; try again in 1 minute</p>')
ERROR = re.compile(r'<p class="error" role="alert">([^<]*)</p>')
SAME_PASSWORD = {"new_password": PASSWORD, "confirm_password": PASSWORD}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    with ExitStack() as stack:
        yield labeling_db_url(request.param, tmp_path, stack)


def burst_of_logins(url: str, user: str, password: str, count: int) -> list[int]:
    """``count`` logins at once, each from a browser of its own; their statuses."""
    clients = [httpx.Client(base_url=url, timeout=60) for _ in range(count)]
    with ThreadPoolExecutor(count) as pool:
        return sorted(r.status_code for r in pool.map(lambda c: login(c, user, password), clients))


def throttled(response: httpx.Response) -> int:
    """The refusal's ``Retry-After`` in seconds, after checking it is a plain 429 refusal."""
    assert response.status_code == 429, response.text
    assert REFUSAL.search(response.text), response.text
    assert "qiloop_session" not in response.headers.get("set-cookie", "")
    retry = int(response.headers["Retry-After"])
    assert 1 <= retry <= WINDOW_S + 1
    return retry


def test_wrong_passwords_then_the_right_one_wait_for_the_window(tmp_path, db_url):
    with running_service(tmp_path, images=1, job=None, options=SHORT, db_url=db_url) as service:
        # Eight at once: the first five are checked (and fail), the rest refused unchecked.
        assert burst_of_logins(service.url, "alice", "not the password", 8) == [401] * 5 + [429] * 3
        alice = httpx.Client(base_url=service.url, timeout=30)
        retry = throttled(login(alice, "alice"))

        assert login(httpx.Client(base_url=service.url), "bob").status_code == 303  # another user is not affected

        time.sleep(retry + 0.2)
        assert login(alice, "alice").status_code == 303
        assert alice.get("/jobs").status_code == 200


def test_sequential_failures_unknown_users_and_a_success_that_clears(tmp_path):
    with running_service(tmp_path, images=1, job=None) as service:  # the default window: 15 minutes
        client = httpx.Client(base_url=service.url, timeout=30)
        for _ in range(4):
            assert login(client, "alice", "not the password").status_code == 401
        assert login(client, "alice").status_code == 303  # a success clears the four
        errors = set()
        for user in ("alice", "nobody-here"):
            for _ in range(5):
                assert login(client, user, "not the password").status_code == 401
            refused = login(client, user, PASSWORD)
            assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 14 * 60
            errors.add(ERROR.search(refused.text).group(1))
        assert errors == {"too many failed attempts; try again in 15 minutes"}  # the same, account or not


def test_the_change_password_page_counts_wrong_current_passwords(tmp_path, db_url):
    with running_service(tmp_path, images=1, job=None, options=SHORT, db_url=db_url) as service:
        alice = service.browser("alice")
        wrong = {"current_password": "not the password"} | SAME_PASSWORD
        copies = [httpx.Client(base_url=service.url, cookies=alice.cookies, headers=alice.headers) for _ in range(5)]
        with ThreadPoolExecutor(5) as pool:
            statuses = list(pool.map(lambda c: c.post("/account/password", data=wrong).status_code, copies))
        assert statuses == [400] * 5

        right = {"current_password": PASSWORD} | SAME_PASSWORD
        refused = alice.post("/account/password", data=right)
        assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= WINDOW_S + 1
        assert REFUSAL.search(refused.text) and "qiloop labeling users unlock" in refused.text
        assert login(httpx.Client(base_url=service.url), "alice").status_code == 429  # one count for the account

        bob = service.browser("bob")
        assert bob.post("/account/password", data=right).status_code == 303  # another user is not affected

        time.sleep(int(refused.headers["Retry-After"]) + 0.2)
        changed = alice.post("/account/password", data=right)
        assert changed.status_code == 303 and changed.headers["location"] == "/account/password?changed=true"


@pytest.mark.parametrize(("trusted", "last_status"), [("", 429), ("127.0.0.1", 303)])
def test_the_client_limit_believes_forwarded_for_only_from_named_proxies(tmp_path, trusted, last_status):
    options = WebOptions(labeling_login_max_client_failures=3, labeling_forwarded_allow_ips=trusted)
    with running_service(tmp_path, images=1, job=None, options=options) as service:
        for i, user in enumerate(("alice", "carl", "nobody-here")):
            client = httpx.Client(base_url=service.url, headers={"X-Forwarded-For": f"203.0.113.{i}"})
            assert login(client, user, "not the password").status_code == 401
        # Three failures from this machine, whatever the header claimed: its fourth attempt waits,
        # unless the service was told to believe this machine as a proxy.
        bob = httpx.Client(base_url=service.url, headers={"X-Forwarded-For": "203.0.113.9"})
        assert login(bob, "bob").status_code == last_status
