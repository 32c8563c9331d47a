"""Every retry policy of qiloop, named, in one place, run by tenacity.

A :class:`Policy` says how often and how long to try again and how long to wait
in between (exponential from ``first_s`` up to ``max_s``, with full jitter where
racing writers must not retry in step). What is worth retrying is decided by
exception type at the call site (``retry_on``), never by an error's message:
the types live with the clients (deltalake's ``CommitFailedError``, the
nucleus's ``TransferError``), and core imports none of them. A wait can be cut
short by a stop event; the call then raises :class:`Interrupted`.

Where a client retries by itself, its own mechanism is used and configured from
the policy: paho's ``reconnect_delay_set`` for the collector's reconnects,
delta-rs's ``max_commit_retries`` for a commit that loses a race for a log version.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import tenacity

T = TypeVar("T")


class Interrupted(Exception):
    """A stop event was set while waiting to retry; ``last`` is the outcome of the last attempt."""

    def __init__(self, policy: str, last: tenacity.Future | None) -> None:
        super().__init__(f"stopped while waiting to retry ({policy})")
        self.last = last

    @property
    def error(self) -> BaseException | None:
        """The exception of the last attempt (None when it returned a result)."""
        return self.last.exception() if self.last is not None and self.last.failed else None


@dataclass(frozen=True)
class Policy:
    """How to retry: at most ``attempts`` tries within ``deadline_s``, waiting ``first_s``, doubling to ``max_s``.

    ``attempts`` or ``deadline_s`` None: no such bound (a stop event ends it).
    ``jitter``: each wait is drawn uniformly from zero to the exponential value.
    """

    name: str
    first_s: float
    max_s: float
    attempts: int | None = None
    deadline_s: float | None = None
    jitter: bool = False

    def with_(self, **changes: Any) -> Policy:
        """The same policy with some fields changed (a caller's configured deadline, a test's short waits)."""
        return dataclasses.replace(self, **changes)

    def call(
        self,
        fn: Callable[[], T],
        *,
        retry_on: type[BaseException] | tuple[type[BaseException], ...] = (),
        retry_if_result: Callable[[T], bool] | None = None,
        wait_hint: Callable[[T], float] | None = None,
        stop: threading.Event | None = None,
        log: logging.Logger | None = None,
        what: str = "",
        on_wait: Callable[[float, Any], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> T:
        """Call ``fn`` until it succeeds, the policy gives up, or ``stop`` is set.

        Args:
            retry_on: The exception types worth another try; any other raises at once.
            retry_if_result: When it says yes to a returned value, try again.
            wait_hint: A shorter wait the last returned value asks for (a server's Retry-After).
            stop: Set it to end the waiting; the call then raises :class:`Interrupted`.
            log: Where to log each retry after an exception (warning), naming ``what`` was tried.
            on_wait: Called before each wait with its length and the last attempt's exception or value.
            sleep: How to wait when there is no ``stop`` event (tests pass a recorder).

        Returns:
            ``fn``'s value; after the last try, the last value even when ``retry_if_result`` wanted another.

        Raises:
            The last exception of a ``retry_on`` type when the policy gives up;
            any other exception at once; :class:`Interrupted`.
        """
        retry: tenacity.retry_base = tenacity.retry_if_exception_type(retry_on)
        if retry_if_result is not None:
            retry = retry | tenacity.retry_if_result(retry_if_result)
        last: list[tenacity.Future] = []

        def before_sleep(state: tenacity.RetryCallState) -> None:
            outcome = state.outcome
            last[:] = [outcome]
            delay = state.upcoming_sleep
            if on_wait is not None:
                on_wait(delay, outcome.exception() if outcome.failed else outcome.result())
            if log is not None and outcome.failed:
                log.warning("%s failed (%s); retrying in %.1f s", what or self.name, outcome.exception(), delay)

        def wait(seconds: float) -> None:
            if stop is None:
                sleep(seconds)
            elif stop.wait(seconds):
                raise Interrupted(self.name, last[0] if last else None)

        retrying = tenacity.Retrying(
            stop=self._stop(),
            wait=self._wait(wait_hint),
            retry=retry,
            before_sleep=before_sleep,
            sleep=wait,
            retry_error_callback=lambda state: state.outcome.result(),  # the last value, or its exception
        )
        return retrying(fn)

    def _stop(self) -> tenacity.stop.stop_base:
        stop: tenacity.stop.stop_base = tenacity.stop_never
        if self.attempts is not None:
            stop = stop | tenacity.stop_after_attempt(self.attempts)
        if self.deadline_s is not None:
            stop = stop | tenacity.stop_before_delay(self.deadline_s)  # never sleeps past the deadline
        return stop

    def _wait(self, hint: Callable[[Any], float] | None) -> Callable[[tenacity.RetryCallState], float]:
        if self.first_s <= 0:
            base: Callable[[tenacity.RetryCallState], float] = tenacity.wait_none()
        elif self.jitter:
            base = tenacity.wait_random_exponential(multiplier=self.first_s, max=self.max_s)
        else:
            base = tenacity.wait_exponential(multiplier=self.first_s, max=self.max_s)
        if hint is None:
            return base

        def hinted(state: tenacity.RetryCallState) -> float:
            own = base(state)
            if state.outcome is None or state.outcome.failed:
                return own
            return max(0.0, min(own, hint(state.outcome.result())))

        return hinted

    def delays(self) -> list[float]:
        """The waits between tries without jitter (for messages and docs); empty when unbounded."""
        if self.attempts is None:
            return []
        return [min(self.max_s, self.first_s * 2**n) for n in range(self.attempts - 1)]


# The nucleus fetches deployment documents and artefacts from the controller's file
# server; an unreachable server is retried until the deployment's deadline
# (AgentConfig.download_retry_s replaces deadline_s).
DOWNLOAD = Policy("download", first_s=0.2, max_s=10.0, deadline_s=300.0)

# A device (inference app, nucleus reports) or the collector reconnecting to its
# MQTT broker: for as long as the process runs.
BROKER_RECONNECT = Policy("broker reconnect", first_s=0.2, max_s=30.0)

# An append to a Delta table that lost the race for a log version more often than
# delta-rs retries by itself (DELTA_LOG_RETRIES): try again after a jittered wait.
DELTA_COMMIT = Policy("delta commit", first_s=0.05, max_s=2.0, attempts=10, jitter=True)
DELTA_LOG_RETRIES = 50

# The collector storing a device message while the broker's acknowledgement is held:
# waits of 0.5, 1, 2, 4, 8 and 15 s, then the message goes to the dead-letter folder.
STORE_WRITE = Policy("store write", first_s=0.5, max_s=15.0, attempts=7)

# A labelling worker asking twice at once for a task: the other request won; ask again.
TASK_LEASE = Policy("task lease", first_s=0.0, max_s=0.0, attempts=3)

# A bot polling the labelling service while images are leased to others: honours
# Retry-After, asks at least every second, gives up after a minute without a task.
SERVICE_POLL = Policy("service poll", first_s=1.0, max_s=1.0, deadline_s=60.0)
