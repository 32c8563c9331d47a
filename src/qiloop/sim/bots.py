"""Simulated workers that label and verify through the service's HTTP API: the stand-in for a workforce.

Each bot is a worker account with an API token and its own noise; it leases
tasks, draws boxes from the known truth with that noise, and submits, over real
HTTP like any script would. A bot verifier approves consolidations that match
the truth and rejects the rest with a reason, so rejected images go round again.
A worker never sees an image twice in a job, so with N annotators per image a
rejected image needs workers who have not seen it yet: the default of 2N bots
leaves room for one more round.

A bot stops when the service says nothing is left for it. When images remain
that other workers hold leases on, the service answers with ``Retry-After``
(when the earliest of those leases runs out) instead, and the bot asks again
then, or sooner, every second (the :data:`~qiloop.core.retry.SERVICE_POLL`
policy), since most leases end early with a submission; it gives up after
``max_wait`` seconds in a row without a task. So a lease that runs out
mid-run still gets its image labelled.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import httpx
import numpy as np

from qiloop.core.errors import QiloopError
from qiloop.core.records import Box
from qiloop.core.retry import SERVICE_POLL
from qiloop.labeling.overlap import f1
from qiloop.sim.truth import SLOPPY, Noise, noisy_boxes


@dataclass(frozen=True)
class BotAccount:
    """A simulated worker: account name, API token, and how it departs from the truth."""

    username: str
    token: str
    noise: Noise


@dataclass(frozen=True)
class LabelingRun:
    """What the bots did: tasks submitted per bot, lease conflicts, the time it took, and how often they waited."""

    submitted: dict[str, int]
    conflicts: int
    seconds: float
    waits: int = 0

    @property
    def tasks(self) -> int:
        return sum(self.submitted.values())

    @property
    def tasks_per_second(self) -> float:
        return self.tasks / self.seconds if self.seconds > 0 else 0.0


def bot_token(session, username: str, role: str, purpose: str = "bots") -> str:
    """A new API token for ``username``, creating the account (random password, never shown) when missing."""
    import secrets

    from qiloop.core.errors import NotFoundError
    from qiloop.labeling import auth, workforce

    try:
        user = workforce.find_user(session, username)
    except NotFoundError:
        workforce.add_user(session, username, secrets.token_urlsafe(24), role)
        user = workforce.find_user(session, username)
    return auth.issue_api_token(session, user, purpose)


def bot_accounts(db, count: int, sloppy: int = 1, noise: Noise = Noise(), prefix: str = "bot") -> list[BotAccount]:
    """Create (or reuse) ``count`` labeler accounts, the last ``sloppy`` of them sloppy, each with a new API token."""
    accounts = []
    with db.session() as session:
        for i in range(1, count + 1):
            name = f"{prefix}-{i}"
            token = bot_token(session, name, "labeler")
            accounts.append(BotAccount(name, token, SLOPPY if i > count - sloppy else noise))
    return accounts


def label_job(
    url: str,
    job: str,
    bots: Sequence[BotAccount],
    truth: Mapping[str, Sequence[Box]],
    *,
    seed: int = 0,
    on_task: Callable[[], None] | None = None,
    max_wait: float = 60.0,
) -> LabelingRun:
    """Let every bot take and submit tasks of ``job`` at the same time until none is left for it.

    Args:
        max_wait: How long a bot keeps asking, in seconds without a task, while the
            service says images remain leased to others (0: stop at the first empty answer).
    """
    submitted = {b.username: 0 for b in bots}
    conflicts, waits = [0], [0]
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(index: int, bot: BotAccount) -> None:
        rng = np.random.default_rng([seed, index])
        try:
            with _client(url, bot.token) as client:
                while (task := _next_task(client, job, max_wait, waits, lock)) is not None:
                    known = truth.get(task["image_sha256"], ())
                    boxes = noisy_boxes(known, task["image_width"], task["image_height"], bot.noise, rng)
                    body = {"boxes": [b.model_dump(exclude={"score"}) for b in boxes]}
                    response = client.post(f"/api/v1/tasks/{task['id']}/submit", json=body)
                    with lock:
                        if response.status_code == 409:  # the lease ran out: the image went back to the queue
                            conflicts[0] += 1
                            continue
                        _raise_for(response)
                        submitted[bot.username] += 1
                    if on_task is not None:
                        on_task()
        except BaseException as exc:
            errors.append(exc)

    start = time.perf_counter()
    threads = [threading.Thread(target=work, args=(i, b), name=f"bot-{b.username}") for i, b in enumerate(bots)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return LabelingRun(submitted, conflicts[0], time.perf_counter() - start, waits[0])


def verify_job(
    url: str, job: str, token: str, truth: Mapping[str, Sequence[Box]], *, min_f1: float = 0.5
) -> tuple[int, int]:
    """A bot verifier: approve consolidations whose F1 against the truth reaches ``min_f1``, reject the rest.

    Returns:
        ``(approved, rejected)``.
    """
    approved = rejected = 0
    with _client(url, token) as client:
        while queue := _call(client, "GET", f"/api/v1/jobs/{job}/review", params={"limit": 100}):
            for item in queue:
                boxes = [Box(**c["box"]) for c in item["boxes"]]
                score = f1(boxes, truth.get(item["image_sha256"], ()))
                if score >= min_f1:
                    _call(client, "POST", f"/api/v1/items/{item['item_id']}/approve", json={})
                    approved += 1
                else:
                    reason = f"the boxes match the reference poorly (F1 {score:.2f}): look for missed and invented ones"
                    _call(client, "POST", f"/api/v1/items/{item['item_id']}/reject", json={"reason": reason})
                    rejected += 1
    return approved, rejected


def _next_task(client: httpx.Client, job: str, max_wait: float, waits: list[int], lock: threading.Lock) -> dict | None:
    """The bot's next task; while the service says ``Retry-After``, asks again (for at most ``max_wait`` seconds)."""

    def ask() -> httpx.Response:
        response = client.post(f"/api/v1/jobs/{job}/tasks/next")
        _raise_for(response)
        return response

    def count(_delay: float, _response: httpx.Response) -> None:
        with lock:
            waits[0] += 1

    poll = SERVICE_POLL.with_(deadline_s=max_wait)
    response = poll.call(ask, retry_if_result=_come_back_later, wait_hint=_retry_after, on_wait=count)
    return None if response.status_code == 204 else response.json()


def _come_back_later(response: httpx.Response) -> bool:
    """No task now, but images are leased to others: the service says when to ask again."""
    return response.status_code == 204 and "retry-after" in response.headers


def _retry_after(response: httpx.Response) -> float:
    return float(response.headers["retry-after"])


def _client(url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60.0)


def _call(client: httpx.Client, method: str, path: str, **kwargs):
    response = client.request(method, path, **kwargs)
    _raise_for(response)
    return None if response.status_code == 204 else response.json()


def _raise_for(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        body = response.json()
    except ValueError:
        body = {"message": response.text[:200]}
    raise QiloopError(
        f"the labelling service answered {response.status_code} to {response.request.method} "
        f"{response.request.url.path}: {body.get('message')}",
        hint=body.get("hint") or "check the service's log",
    )


def label_until_verified(
    url: str,
    job: str,
    bots: Sequence[BotAccount],
    truth: Mapping[str, Sequence[Box]],
    verifier_token: str,
    *,
    seed: int = 0,
    max_wait: float = 60.0,
    rounds: int = 5,
) -> tuple[LabelingRun, int, int]:
    """The bots label ``job``; a bot verifier decides, and the bots label what it rejected again.

    At most ``rounds`` verifications; each rejection is followed by one more labelling
    round with a new seed.

    Returns:
        ``(run, approved, rejected)``: the bots' work over all rounds, and the verifier's decisions.
    """
    run = label_job(url, job, bots, truth, seed=seed, max_wait=max_wait)
    approved = rejected = 0
    for attempt in range(1, rounds + 1):
        ok, bad = verify_job(url, job, verifier_token, truth)
        approved, rejected = approved + ok, rejected + bad
        if not bad:
            break
        more = label_job(url, job, bots, truth, seed=seed + attempt, max_wait=max_wait)
        run = LabelingRun(
            {k: v + more.submitted[k] for k, v in run.submitted.items()},
            run.conflicts + more.conflicts,
            run.seconds + more.seconds,
            run.waits + more.waits,
        )
    return run, approved, rejected
