"""Use case: roll an approved model version out to a group of devices, canary first, and wait for the outcome.

The rollout is recorded in the fleet's database; a running fleet controller
(``qiloop fleet serve``, or a :class:`qiloop.fleet.service.ControllerService` in
the same process) carries it out: the canaries first, the rest after the soak,
a roll-back when it fails. Only a version qiloop's approval record stands behind
is deployed (default: production).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RolloutOutcome:
    """A rollout as it ended (or stood when the wait ran out)."""

    id: str
    target: str
    components: tuple[str, ...]  # name version
    phase: str
    ended: bool
    canaries: tuple[str, ...]
    outcome: dict[str, str]  # device → its final state
    reason: str
    seconds: float

    @property
    def succeeded(self) -> bool:
        return self.phase == "SUCCEEDED"

    @property
    def devices_succeeded(self) -> int:
        return sum(1 for state in self.outcome.values() if state == "SUCCEEDED")

    def metadata(self) -> dict[str, float]:
        return {
            "succeeded": float(self.succeeded),
            "devices": len(self.outcome),
            "devices_succeeded": self.devices_succeeded,
            "seconds": round(self.seconds, 2),
        }


def deploy_version(
    controller, registry, target, ref: str | None = None, *, policy=None, fresh_code: bool = False,
    configuration: dict | None = None, allow_new_target: bool = False,
):  # fmt: skip
    """Record a rollout of ``ref`` (default: production) with the inference code to ``target``; the Rollout.

    Args:
        controller: The :class:`qiloop.fleet.controller.FleetController`.
        registry: The model registry.
        target: A group name, ``group:NAME``, ``device:ID`` or a :class:`qiloop.core.deployments.Target`.
        policy: The :class:`qiloop.core.deployments.RolloutPolicy` (canaries, soak, failures allowed).
        fresh_code: Ship the inference code as installed now, not the one the fleet runs.
        allow_new_target: Record it even when no known device is in the target yet.

    Raises:
        NotFoundError: Unknown target (unless ``allow_new_target``), version, or no production model.
        ApprovalError: The approval record does not stand behind the version.
    """
    from qiloop.fleet.model_deploy import deploy_model

    return deploy_model(
        controller, registry, target, ref, policy=policy, configuration=configuration,
        allow_new_target=allow_new_target, fresh_code=fresh_code,
    )  # fmt: skip


def wait_for_rollout(
    fleet_db, rollout_id: str, *, timeout: float = 900.0, poll: float = 0.2,
    on_change: Callable[[object], None] | None = None, require_controller: bool = True,
) -> RolloutOutcome:  # fmt: skip
    """Wait until the rollout ended or ``timeout`` passed, reading the fleet's database.

    Args:
        fleet_db: The :class:`qiloop.fleet.registry_db.FleetDB` (``controller.db``).
        on_change: Called with the Rollout whenever its phase or outcome changed.
        require_controller: Refuse to wait when no fleet controller beats (nothing would carry it out).

    Raises:
        QiloopError: No controller is running (with ``require_controller``).
        NotFoundError: No such rollout.
    """
    from qiloop.core.errors import NotFoundError, QiloopError

    if require_controller and not fleet_db.controllers():
        raise QiloopError(
            "no fleet controller is running to carry the rollout out",
            hint="start `qiloop fleet serve` (the rollout is recorded and starts then)",
        )
    started = time.monotonic()
    rollout, seen = fleet_db.rollout(rollout_id), None
    if rollout is None:
        raise NotFoundError(f"no rollout {rollout_id}", hint="see the ids in qiloop fleet status")
    while True:
        state = (rollout.phase, tuple(sorted(rollout.outcome.items())))
        if state != seen and on_change is not None:
            on_change(rollout)
        seen = state
        if rollout.phase.ended or time.monotonic() - started >= timeout:
            break
        time.sleep(poll)
        rollout = fleet_db.rollout(rollout_id)
    return outcome_of(rollout, time.monotonic() - started)


def deploy_and_wait(
    controller, registry, target, ref: str | None = None, *, policy=None, timeout: float = 900.0,
    fresh_code: bool = False, allow_new_target: bool = False, on_change: Callable[[object], None] | None = None,
) -> RolloutOutcome:  # fmt: skip
    """:func:`deploy_version`, then :func:`wait_for_rollout`: the loop's deployment step."""
    started = time.monotonic()
    rollout = deploy_version(
        controller, registry, target, ref, policy=policy, fresh_code=fresh_code, allow_new_target=allow_new_target
    )
    done = wait_for_rollout(controller.db, rollout.id, timeout=timeout, on_change=on_change)
    return _replace_seconds(done, time.monotonic() - started)


def outcome_of(rollout, seconds: float = 0.0) -> RolloutOutcome:
    """A Rollout as a :class:`RolloutOutcome`."""
    return RolloutOutcome(
        id=rollout.id,
        target=str(rollout.target),
        components=tuple(f"{c.name} {c.version}" for c in rollout.components),
        phase=rollout.phase.value,
        ended=rollout.phase.ended,
        canaries=tuple(rollout.canaries),
        outcome=dict(rollout.outcome),
        reason=rollout.reason,
        seconds=seconds,
    )


def _replace_seconds(outcome: RolloutOutcome, seconds: float) -> RolloutOutcome:
    from dataclasses import replace

    return replace(outcome, seconds=seconds)
