"""The use cases of the loop: one function per step, over the stores, the registry and the fleet.

The CLI, the demo and the orchestration call these; none of them holds loop logic
of its own. Each function takes ready collaborators (built by the caller from
qiloop's settings) and returns a small frozen dataclass whose ``metadata()`` gives
its numeric figures.

- :func:`qiloop.loop.ingest.ingest_images` — camera files into the image store → ``Ingested``.
- :func:`qiloop.loop.labeling_job.waiting_images` — the images a new job would take (unlabelled or feedback).
- :func:`qiloop.loop.labeling_job.open_labeling_job` — the one way a labelling job is opened (CLI, triggers,
  demo): over unlabelled, feedback or named images, pre-labelled by the production model or a named one
  (feedback keeps its devices' boxes) → ``OpenedJob``, or None when fewer than ``min_images`` wait.
- :func:`qiloop.loop.publish.publish_approved_labels` — approvals not yet in the label store → ``Published``.
- :func:`qiloop.loop.train.train_candidate` — snapshot → dataset → train → evaluate → gate → register,
  optionally fine-tuning earlier weights → ``TrainedCandidate``.
- :func:`qiloop.loop.approve.approve_version` — approve on the record; production follows → ``Approved``.
- :func:`qiloop.loop.approve.promotion` — the rule for approving without a person: passed the gate and
  beats production on the same test images → ``Promotion``.
- :func:`qiloop.loop.deploy.deploy_version` — record a canary rollout of an approved version → ``Rollout``.
- :func:`qiloop.loop.deploy.wait_for_rollout` / :func:`qiloop.loop.deploy.deploy_and_wait` — its outcome
  → ``RolloutOutcome``.
- :func:`qiloop.loop.collect.collect_results` — results and feedback the devices sent since a moment → ``Collected``;
  :func:`qiloop.loop.collect.wait_for_results` waits for a number of results.

Import the functions from their modules (``from qiloop.loop.train import train_candidate``) or from here
(resolved on first use, so importing this package loads no framework).
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "ingest_images": "ingest",
    "Ingested": "ingest",
    "waiting_images": "labeling_job",
    "open_labeling_job": "labeling_job",
    "OpenedJob": "labeling_job",
    "publish_approved_labels": "publish",
    "Published": "publish",
    "train_candidate": "train",
    "TrainedCandidate": "train",
    "approve_version": "approve",
    "promotion": "approve",
    "Approved": "approve",
    "Promotion": "approve",
    "deploy_version": "deploy",
    "wait_for_rollout": "deploy",
    "deploy_and_wait": "deploy",
    "RolloutOutcome": "deploy",
    "collect_results": "collect",
    "wait_for_results": "collect",
    "Collected": "collect",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'qiloop.loop' has no attribute {name!r}")
    return getattr(importlib.import_module(f"qiloop.loop.{_WHERE[name]}"), name)
