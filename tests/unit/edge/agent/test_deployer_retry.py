"""The nucleus retries an unreachable controller under the DOWNLOAD policy, within its configured deadline."""

from __future__ import annotations

import threading
import time

import pytest

from qiloop.edge.agent.config import AgentConfig
from qiloop.edge.agent.deployer import Deployer, Stopping
from qiloop.edge.agent.download import IntegrityError, TransferError
from qiloop.edge.agent.failpoint import Failpoints


class Controller:
    """A download step that fails ``failures`` times with ``error``, then returns the documents."""

    def __init__(self, failures: int, error: Exception | None = None) -> None:
        self.failures, self.calls = failures, 0
        self.error = error or TransferError("cannot reach the controller at http://127.0.0.1:9: connection refused")

    def __call__(self) -> dict:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return {"app": "documents"}


def deployer(tmp_path, retry_s: float, stop: threading.Event | None = None) -> Deployer:
    config = AgentConfig(home=tmp_path, device_id="cam-1", download_retry_s=retry_s)
    # Retrying touches only the configuration and the stop event; the other collaborators stay unused.
    return Deployer(config, None, None, None, None, None, None, failpoints=Failpoints(),  # type: ignore[arg-type]
                    stop=stop or threading.Event())  # fmt: skip


def test_a_controller_that_comes_back_is_retried(tmp_path):
    controller = Controller(2)
    assert deployer(tmp_path, retry_s=30)._retry(controller) == {"app": "documents"}
    assert controller.calls == 3  # waited 0.2 s, then 0.4 s


def test_the_deadline_ends_the_retries_with_the_last_error(tmp_path):
    controller, started = Controller(1000), time.monotonic()
    with pytest.raises(TransferError, match="cannot reach the controller"):
        deployer(tmp_path, retry_s=1.0)._retry(controller)
    assert time.monotonic() - started < 1.5 and controller.calls == 3  # 0.2 + 0.4, and 0.8 more would pass 1 s


def test_no_retry_time_means_one_attempt(tmp_path):
    controller = Controller(1000)
    with pytest.raises(TransferError):
        deployer(tmp_path, retry_s=0)._retry(controller)
    assert controller.calls == 1


def test_wrong_bytes_are_not_retried(tmp_path):
    controller = Controller(1000, IntegrityError("app/2/app.py: sha256 differs"))
    with pytest.raises(IntegrityError):
        deployer(tmp_path, retry_s=30)._retry(controller)
    assert controller.calls == 1


def test_stopping_the_nucleus_ends_the_wait_at_once(tmp_path):
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    with pytest.raises(Stopping, match="cannot reach the controller"):
        deployer(tmp_path, retry_s=300, stop=stop)._retry(Controller(1000))
    assert time.monotonic() - started < 2.0
