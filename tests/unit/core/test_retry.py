"""The named retry policies: what they retry (by type only), how often, how long they wait, how they stop."""

from __future__ import annotations

import threading
import time

import pytest

from qiloop.core import retry
from qiloop.core.retry import Interrupted, Policy


class Transient(ConnectionError):
    """A failure worth another try."""


class Flaky:
    """An operation that raises ``error`` ``failures`` times, then returns "done"."""

    def __init__(self, failures: int, error: BaseException = Transient("the server is away")) -> None:
        self.failures, self.error, self.calls = failures, error, 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "done"


def run(policy: Policy, operation, **kwargs):
    slept: list[float] = []
    try:
        return policy.call(operation, sleep=slept.append, **kwargs), slept
    finally:
        run.slept = slept


@pytest.mark.parametrize(
    ("policy", "failures"),
    [(retry.DOWNLOAD, 5), (retry.DELTA_COMMIT, 9), (retry.STORE_WRITE, 6), (retry.TASK_LEASE, 2)],
)
def test_a_retryable_type_is_tried_again_until_it_succeeds(policy, failures):
    flaky = Flaky(failures)
    result, slept = run(policy, flaky, retry_on=Transient)
    assert (result, flaky.calls, len(slept)) == ("done", failures + 1, failures)


def test_another_type_fails_at_once():
    flaky = Flaky(3, KeyError("a bug, not an outage"))
    with pytest.raises(KeyError):
        run(retry.DOWNLOAD, flaky, retry_on=Transient)
    assert flaky.calls == 1 and run.slept == []


def test_the_message_does_not_matter_only_the_type():
    # Words that a message-matching retry took for a conflict: with another type, no retry.
    worded = Flaky(3, RuntimeError("concurrent transaction conflict: version already exists"))
    with pytest.raises(RuntimeError):
        run(retry.DELTA_COMMIT, worded, retry_on=Transient)
    assert worded.calls == 1
    # And a retryable type with a message that says nothing of the kind is still retried.
    plain = Flaky(2, Transient("failed"))
    assert run(retry.DELTA_COMMIT, plain, retry_on=Transient)[0] == "done" and plain.calls == 3


def test_the_last_error_is_raised_when_the_attempts_run_out():
    flaky = Flaky(100)
    with pytest.raises(Transient, match="the server is away"):
        run(retry.STORE_WRITE, flaky, retry_on=Transient)
    assert flaky.calls == retry.STORE_WRITE.attempts == 7


def test_store_write_waits_like_the_collector_always_did():
    with pytest.raises(Transient):
        run(retry.STORE_WRITE, Flaky(100), retry_on=Transient)
    assert run.slept == [0.5, 1, 2, 4, 8, 15] == retry.STORE_WRITE.delays()


def test_download_doubles_to_its_cap_and_never_sleeps_past_its_deadline():
    policy = retry.DOWNLOAD.with_(deadline_s=1.0)
    with pytest.raises(Transient):
        run(policy, Flaky(100), retry_on=Transient)
    assert run.slept == [0.2, 0.4, 0.8]  # the recorder takes no time: a wait of 1.6 s would itself end past 1 s
    unbounded = retry.DOWNLOAD.with_(deadline_s=None, attempts=9)
    with pytest.raises(Transient):
        run(unbounded, Flaky(100), retry_on=Transient)
    assert run.slept == [0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 10.0, 10.0]


def test_a_real_deadline_ends_the_retries():
    policy = Policy("test", first_s=0.05, max_s=0.05, deadline_s=0.3)
    flaky, started = Flaky(1000), time.monotonic()
    with pytest.raises(Transient):
        policy.call(flaky, retry_on=Transient)
    assert time.monotonic() - started < 1.0 and 3 <= flaky.calls <= 8


def test_jittered_waits_stay_under_the_exponential_value():
    with pytest.raises(Transient):
        run(retry.DELTA_COMMIT, Flaky(100), retry_on=Transient)
    assert len(run.slept) == retry.DELTA_COMMIT.attempts - 1
    assert all(0 <= got <= bound for got, bound in zip(run.slept, retry.DELTA_COMMIT.delays(), strict=True))


def test_a_result_can_ask_for_another_try_and_the_last_one_is_returned():
    answers = iter([204, 204, 200])
    assert (
        run(retry.SERVICE_POLL.with_(deadline_s=None), lambda: next(answers), retry_if_result=lambda r: r == 204)[0]
        == 200
    )
    always = Policy("test", first_s=0.0, max_s=0.0, attempts=3)
    assert always.call(lambda: 204, retry_if_result=lambda r: r == 204) == 204


def test_a_wait_hint_shortens_the_wait_never_lengthens_it():
    answers = iter([0.25, 30.0, None])
    result, slept = run(
        retry.SERVICE_POLL.with_(deadline_s=None),
        lambda: next(answers),
        retry_if_result=lambda r: r is not None,
        wait_hint=lambda r: r,
    )
    assert result is None and slept == [0.25, 1.0]


def test_on_wait_sees_each_wait_and_the_last_outcome():
    seen = []
    run(retry.TASK_LEASE, Flaky(2), retry_on=Transient, on_wait=lambda delay, last: seen.append((delay, str(last))))
    assert seen == [(0, "the server is away")] * 2


def test_a_stop_event_ends_the_wait_at_once_with_the_last_error():
    stop = threading.Event()
    policy = Policy("test", first_s=30.0, max_s=30.0)
    threading.Timer(0.2, stop.set).start()
    started = time.monotonic()
    with pytest.raises(Interrupted) as caught:
        policy.call(Flaky(1000), retry_on=Transient, stop=stop)
    assert time.monotonic() - started < 5.0
    assert isinstance(caught.value.error, Transient)


def test_with_changes_one_field_and_keeps_the_name():
    changed = retry.BROKER_RECONNECT.with_(max_s=5.0)
    assert (changed.name, changed.first_s, changed.max_s) == ("broker reconnect", 0.2, 5.0)
    assert retry.BROKER_RECONNECT.max_s == 30.0
