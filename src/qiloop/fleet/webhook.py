"""Alerts POSTed to a webhook (Slack-style incoming hooks, Alertmanager receivers, any HTTP endpoint).

The body is the alert's JSON (:meth:`Alert.to_json`) plus a one-line ``text``.
Sending happens on the notifier's own thread from a bounded queue, so an alert
raised on the collector's network thread never waits for a slow endpoint. A send
that fails for a reason worth retrying (no connection, a timeout, 429 or 5xx) is
retried under :data:`WEBHOOK`; a 4xx is the hook refusing the message and is
logged once. What is still queued at :meth:`WebhookNotifier.stop` is tried once
within its timeout.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import urllib.error
import urllib.request
from collections.abc import Callable

from qiloop.core.retry import Interrupted, Policy
from qiloop.fleet.alerts import Alert

log = logging.getLogger(__name__)

# One alert to the webhook: waits of 1, 2, 4, 8 and 16 s, then it is given up (and logged).
WEBHOOK = Policy("alert webhook", first_s=1.0, max_s=30.0, attempts=6)


class WebhookFailed(Exception):
    """A POST that did not succeed; ``retryable`` when trying again may work."""

    def __init__(self, message: str, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


def post_json(url: str, body: dict, timeout_s: float) -> int:
    """POST ``body`` as JSON to ``url``; the status code of a 2xx answer.

    Raises:
        WebhookFailed: No 2xx answer (``retryable`` for connection errors, timeouts, 429 and 5xx).
    """
    data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        raise WebhookFailed(f"{url} answered {exc.code}", retryable=exc.code == 429 or exc.code >= 500) from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise WebhookFailed(f"cannot reach {url}: {exc}", retryable=True) from exc


def alert_body(alert: Alert) -> dict:
    """The webhook's JSON for ``alert``: its fields and a ``text`` line for chat hooks."""
    return {**alert.to_json(), "text": f"[qiloop] {alert.kind.value} on {alert.subject}: {alert.message}"}


class WebhookNotifier:
    """An alert listener that POSTs each alert to ``url`` from a background thread.

    Args:
        url: The webhook.
        policy: How a failed send is retried.
        timeout_s: Per request.
        queue_size: Alerts waiting at most; more are dropped (and logged).
        post: Sends one body (tests pass a recorder; default :func:`post_json`).
    """

    def __init__(self, url: str, *, policy: Policy = WEBHOOK, timeout_s: float = 5.0, queue_size: int = 1000,
                 post: Callable[[str, dict, float], int] = post_json) -> None:  # fmt: skip
        self.url, self.policy, self.timeout_s, self._post = url, policy, timeout_s, post
        self._queue: queue.Queue[Alert | None] = queue.Queue(queue_size)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.sent = self.failed = self.dropped = 0

    def __call__(self, alert: Alert) -> None:
        """Queue ``alert`` for sending (the :class:`~qiloop.fleet.alerts.Alerts` listener interface)."""
        try:
            self._queue.put_nowait(alert)
        except queue.Full:
            self.dropped += 1
            log.error("the webhook queue is full; alert %s is not sent to %s", alert.id, self.url)

    def start(self) -> WebhookNotifier:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="alert-webhook", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Send what is queued (retries cut short), then end the thread within about ``timeout`` seconds."""
        self._stopping.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> WebhookNotifier:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        while True:
            alert = self._queue.get()
            if alert is None:
                if self._queue.empty():
                    return
                continue
            self.send(alert)

    def send(self, alert: Alert) -> bool:
        """POST one alert under the retry policy; whether it was delivered."""
        body = alert_body(alert)

        def attempt() -> int:
            return self._post(self.url, body, self.timeout_s)

        def retryable(exc: BaseException) -> bool:
            return isinstance(exc, WebhookFailed) and exc.retryable

        try:
            self.policy.call(
                lambda: _raise_permanent(attempt, retryable),
                retry_on=WebhookFailed,
                stop=self._stopping,  # once stopping, each alert gets one try
                log=log,
                what=f"sending alert {alert.id} to the webhook",
            )
        except (WebhookFailed, _Permanent, Interrupted) as exc:
            self.failed += 1
            log.error("alert %s was not delivered to the webhook: %s", alert.id, exc)
            return False
        self.sent += 1
        return True


class _Permanent(Exception):
    """A failure not worth retrying (the hook refused the message)."""


def _raise_permanent(fn: Callable[[], int], retryable: Callable[[BaseException], bool]) -> int:
    try:
        return fn()
    except WebhookFailed as exc:
        if not retryable(exc):
            raise _Permanent(str(exc)) from exc
        raise
