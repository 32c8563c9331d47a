"""A failed store is told apart by the exception's type: an unavailable store is worth another try, a bug is not."""

from __future__ import annotations

import pytest

from device_messages import png
from qiloop.fleet.intake import Intake
from qiloop.fleet.results_db import ResultsDB
from qiloop.protocol.topics import RESULT_TOPIC
from qiloop.storage.image_store import ImageStore


@pytest.fixture
def intake(tmp_path):
    db = ResultsDB(tmp_path / "fleet.db")
    yield Intake(db, ImageStore.from_url(str(tmp_path / "images")))
    db.close()


def test_an_unwritable_image_store_fails_retryably(intake, device, tmp_path):
    (tmp_path / "images" / "blobs").parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "images" / "blobs").write_bytes(b"a plain file where the blob folder must go")
    outcome = intake.handle("qiloop/devices/cam-1/feedback", device.feedback(1, png(1)))
    assert (outcome.status, outcome.retryable) == ("failed", True), outcome.reason


def test_a_failure_that_would_repeat_is_not_retryable(intake, device):
    intake.db.close()  # reading through a closed connection is a programming error (sqlite3.ProgrammingError)
    outcome = intake.handle("qiloop/devices/cam-1/feedback", device.feedback(1, png(1)))
    assert (outcome.status, outcome.retryable) == ("failed", False) and "ProgrammingError" in outcome.reason


def test_a_stored_message_is_not_retryable(intake, device):
    outcome = intake.handle(RESULT_TOPIC, device.result(1))
    assert (outcome.status, outcome.retryable) == ("stored", False)
