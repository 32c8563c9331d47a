"""Labelling web-service test helpers: a real service on a free port with users, a job, and logged-in clients."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from labeling_helpers import PASSWORD, add_users, ingest_images
from qiloop.core.records import ImageRecord
from qiloop.labeling import auth, jobs, workforce
from qiloop.labeling.api.app import create_app
from qiloop.labeling.api.config import WebOptions
from qiloop.labeling.api.server import BackgroundServer
from qiloop.labeling.db import Database
from qiloop.labelstore import LabelStore
from qiloop.settings import Settings
from qiloop.storage import ImageStore

USERS = {"alice": "labeler", "bob": "labeler", "carl": "labeler", "vera": "verifier", "ada": "admin"}
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
_META = re.compile(r'<meta name="csrf-token" content="([^"]*)">')


@dataclass
class Service:
    """A running labelling service and everything behind it."""

    url: str
    settings: Settings
    db: Database
    images: ImageStore
    labels: LabelStore
    records: list[ImageRecord]
    tokens: dict[str, str] = field(default_factory=dict)

    def api(self, user: str | None) -> httpx.Client:
        """A client with ``user``'s API token (none for ``None``)."""
        headers = {} if user is None else {"Authorization": f"Bearer {self.tokens[user]}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, follow_redirects=False)

    def browser(self, user: str) -> httpx.Client:
        """A client logged in through the login form, with the session's CSRF token as its default header."""
        client = httpx.Client(base_url=self.url, timeout=30, follow_redirects=False)
        login(client, user)
        page = client.get("/jobs")
        client.headers["X-CSRF-Token"] = _META.search(page.text).group(1)
        return client

    def create_job(self, name: str, records: Sequence[ImageRecord], **spec) -> None:
        fields = {"name": name, "classes": ["scratch"], "annotators_per_image": 1} | spec
        with self.db.session() as session:
            jobs.create_job(session, jobs.JobSpec.build(**fields), list(records))


def login(client: httpx.Client, user: str, password: str = PASSWORD) -> httpx.Response:
    """Post the login form the way a browser does (form token from the page, nonce cookie kept)."""
    form = client.get("/login")
    token = _TOKEN.search(form.text).group(1)
    return client.post("/login", data={"username": user, "password": password, "csrf_token": token})


@contextmanager
def running_service(
    tmp_path: Path,
    *,
    images: int = 4,
    options: WebOptions | None = None,
    job: str | None = "job-1",
    db_url: str | None = None,
    upload_store=None,
    **spec,
) -> Iterator[Service]:
    """A service on a free port with the users of :data:`USERS`, ``images`` tiny images and (optionally) a job.

    ``db_url``: the service database (default SQLite in the home folder; see ``labeling_helpers.labeling_db_url``).
    ``upload_store``: the image-store handle uploads use (default: the service opens its own).
    """
    settings = Settings(home=tmp_path / "home", **({"labeling_db_url": db_url} if db_url else {}))
    db = Database.from_settings(settings)
    image_store, label_store = ImageStore.from_settings(settings), LabelStore.from_settings(settings)
    records = ingest_images(image_store, images)
    for name, role in USERS.items():
        add_users(db, name, role=role)
    tokens = {}
    with db.session() as session:
        for name in USERS:
            tokens[name] = auth.issue_api_token(session, workforce.find_user(session, name), "tests")
    app = create_app(
        settings, options or WebOptions(), db=db, image_store=image_store, label_store=label_store,
        upload_store=upload_store,
    )  # fmt: skip
    try:
        with BackgroundServer(app) as server:
            service = Service(server.url, settings, db, image_store, label_store, records, tokens)
            if job is not None:
                service.create_job(job, records, **spec)
            yield service
    finally:
        db.dispose()
