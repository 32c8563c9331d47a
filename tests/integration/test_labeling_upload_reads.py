"""A labeller's image never waits on an admin's upload (it waited 8.6 s during a 12-image upload).

A real service on a free port. The upload's store is a real image store whose
``add_bytes`` stops at a gate the test holds closed, so an upload is provably in
the middle of storing its files while the labeller asks for an image; the image
must come back within a small bound. Then the gate opens, the upload finishes,
and its images are readable through the service like any other.
"""

from __future__ import annotations

import hashlib
import threading
import time

import pytest

from labeling_helpers import png
from labeling_web_helpers import running_service
from qiloop.settings import Settings
from qiloop.storage import ImageStore

pytestmark = pytest.mark.slow

UPLOAD = "/api/v1/admin/images"
BOUND_S = 2.0  # an image read is milliseconds; the upload below is held for up to 30 s


class GatedStore:
    """A real image store whose ``add_bytes`` waits at a gate: an upload held in the middle of storing a file."""

    def __init__(self, store: ImageStore) -> None:
        self._store = store
        self.inside = threading.Event()
        self.gate = threading.Event()

    def batch(self):
        return self._store.batch()

    def add_bytes(self, data: bytes, **fields):
        self.inside.set()
        if not self.gate.wait(30):
            raise TimeoutError("the test never opened the gate")
        return self._store.add_bytes(data, **fields)


def files(*seeds: int) -> list:
    return [("files", (f"up-{s}.png", png(s), "image/png")) for s in seeds]


def lease_image(client, job: str) -> tuple[str, str]:
    task = client.post(f"/api/v1/jobs/{job}/tasks/next")
    assert task.status_code == 200, task.text
    return task.json()["image_url"], task.json()["image_sha256"]


def test_an_image_read_returns_while_an_upload_is_held_in_the_middle(tmp_path):
    gated = GatedStore(ImageStore.from_settings(Settings(home=tmp_path / "home")))  # the service's store, 2nd handle
    with running_service(tmp_path, images=2, upload_store=gated) as service:
        alice, ada = service.api("alice"), service.api("ada")
        url, sha = lease_image(alice, "job-1")
        answers: dict = {}
        upload = threading.Thread(
            target=lambda: answers.update(r=ada.post(UPLOAD, files=files(101, 102, 103), data={"job": "up-1"}))
        )
        upload.start()
        try:
            assert gated.inside.wait(30), "the upload never reached the store"
            for _ in range(3):
                started = time.monotonic()
                image = alice.get(url)
                took = time.monotonic() - started
                assert image.status_code == 200 and hashlib.sha256(image.content).hexdigest() == sha
                assert took < BOUND_S, f"an image read took {took:.1f} s while an upload was in progress"
            assert upload.is_alive()  # the upload was held all along
        finally:
            gated.gate.set()
            upload.join(60)
        assert answers["r"].status_code == 201, answers["r"].text
        assert answers["r"].json()["job"]["images"] == 3

        # what the upload stored is readable through the reading handle, which has not seen it yet
        bob = service.api("bob")
        url, sha = lease_image(bob, "up-1")
        image = bob.get(url)
        assert image.status_code == 200 and hashlib.sha256(image.content).hexdigest() == sha
        assert image.headers["content-type"] == "image/png"


def test_uploads_through_the_services_own_handle_are_read_back(tmp_path):
    with running_service(tmp_path, images=1) as service:
        ada, carl = service.api("ada"), service.api("carl")
        for round_, seeds in enumerate(((201, 202), (203,))):  # the upload handle is opened once, then reused
            response = ada.post(UPLOAD, files=files(*seeds), data={"job": f"up-{round_}"})
            assert response.status_code == 201, response.text
            url, sha = lease_image(carl, f"up-{round_}")
            image = carl.get(url)
            assert image.status_code == 200 and hashlib.sha256(image.content).hexdigest() == sha
        service.images.refresh()
        assert len(service.images.list(source="upload")) == 3
