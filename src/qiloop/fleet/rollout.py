"""A rollout as a state machine: pure transitions over what the fleet reported, no I/O.

PENDING → CANARY (a per-device deployment to ``policy.canary`` devices of the group)
→ SOAK (every canary SUCCEEDED; they must stay healthy for ``policy.soak_s``) → GROUP
(the group deployment, for everyone) → SUCCEEDED. ABORTED when a canary fails, does not
finish within ``policy.health_timeout_s``, turns unhealthy during the soak, or when the
group's failures pass ``policy.max_failure_fraction``; aborting publishes the previous
component set to the affected target(s). SUPERSEDED when a newer rollout took the target.

:func:`advance` is the whole logic: given a rollout, a :class:`View` of what the
devices reported and the time, it returns the next rollout and the :class:`Publish` /
:class:`Clear` actions to carry out. It is level-triggered (it reads the latest
reports, not a stream of events), so calling it again after a crash or with the same
view is safe. The controller (:mod:`qiloop.fleet.controller`) is the I/O shell.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from qiloop.core.components import SETTINGS, settings_args
from qiloop.core.deployments import ComponentRef, DeploymentState, RolloutPolicy, Target

S = DeploymentState
UNHEALTHY_STATUS = frozenset({"stopping", "stopped"})


class Phase(str, Enum):
    PENDING = "PENDING"
    CANARY = "CANARY"
    SOAK = "SOAK"
    GROUP = "GROUP"
    SUCCEEDED = "SUCCEEDED"
    ABORTED = "ABORTED"
    SUPERSEDED = "SUPERSEDED"

    @property
    def ended(self) -> bool:
        return self in (Phase.SUCCEEDED, Phase.ABORTED, Phase.SUPERSEDED)


class Rollout(BaseModel):
    """One rollout of a component set to a target; ``deployments`` maps a target text to its deployment id."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    target: Target
    components: list[ComponentRef] = Field(min_length=1)
    previous: list[ComponentRef] = Field(default_factory=list)
    configuration: dict[str, dict[str, Any]] = Field(default_factory=dict)
    policy: RolloutPolicy = RolloutPolicy()
    phase: Phase = Phase.PENDING
    created_at: float
    phase_since: float
    devices: list[str] = Field(default_factory=list)
    canaries: list[str] = Field(default_factory=list)
    deployments: dict[str, str] = Field(default_factory=dict)
    outcome: dict[str, str] = Field(default_factory=dict)
    rollback: list[str] = Field(default_factory=list)
    reason: str = ""

    def settings(self, component: str) -> list[str]:
        """The settings this rollout gives ``component``'s app, as ``key=value`` (none: its defaults)."""
        return settings_args(self.configuration.get(component, {}).get(SETTINGS))


@dataclass(frozen=True)
class View:
    """What the controller knows when it advances a rollout.

    Attributes:
        members: The devices of the target group now (from their hellos).
        finals: (device, deployment id) → (final state, detail) reported.
        status: device → (status state, controller time it arrived) of its latest status message.
    """

    members: tuple[str, ...] = ()
    finals: Mapping[tuple[str, str], tuple[S, str]] = field(default_factory=dict)
    status: Mapping[str, tuple[str, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class Publish:
    """Create, sign and publish a deployment of ``components`` to ``target``; ``role``: canary, group, rollback."""

    target: Target
    components: tuple[ComponentRef, ...]
    role: str


@dataclass(frozen=True)
class Clear:
    """Remove the retained deployment of ``target``."""

    target: Target


Action = Publish | Clear


def choose_canaries(devices: list[str], count: int, salt: str) -> list[str]:
    """``count`` devices picked by a stable hash of group and device: the same inputs, the same canaries.

    Example:
        >>> choose_canaries(["a", "b", "c"], 1, "line") == choose_canaries(["c", "b", "a"], 1, "line")
        True
    """
    ranked = sorted(devices, key=lambda d: hashlib.sha256(f"{salt}/{d}".encode()).hexdigest())
    return sorted(ranked[:count])


def advance(rollout: Rollout, view: View, now: float, *, stale_after_s: float = 90.0) -> tuple[Rollout, list[Action]]:
    """The next state of ``rollout`` and what to publish for it; unchanged and no actions when nothing is due."""
    step = {Phase.PENDING: _start, Phase.CANARY: _canary, Phase.SOAK: _soak, Phase.GROUP: _group}.get(rollout.phase)
    if step is None:
        return rollout, []
    new, actions = step(rollout, view, now, stale_after_s)
    if new.phase != rollout.phase and new.phase in (Phase.SOAK, Phase.GROUP) and not actions:
        more, actions = advance(new, view, now, stale_after_s=stale_after_s)  # e.g. a soak of 0 s
        return more, actions
    return new, actions


def recorded(rollout: Rollout, action: Publish, deployment_id: str) -> Rollout:
    """The rollout once ``action`` was published as ``deployment_id``."""
    if action.role == "rollback":
        return rollout.model_copy(update={"rollback": [*rollout.rollback, deployment_id]})
    return rollout.model_copy(update={"deployments": {**rollout.deployments, str(action.target): deployment_id}})


def _move(rollout: Rollout, phase: Phase, now: float, **changes) -> Rollout:
    return rollout.model_copy(update={"phase": phase, "phase_since": now, **changes})


def _start(rollout: Rollout, view: View, now: float, _stale: float):
    components = tuple(rollout.components)
    if rollout.target.kind == "device":
        devices = [rollout.target.name]
        return _move(rollout, Phase.GROUP, now, devices=devices), [Publish(rollout.target, components, "group")]
    devices = sorted(view.members)
    canaries = choose_canaries(devices, rollout.policy.canary, rollout.target.name)
    if not canaries:
        return _move(rollout, Phase.GROUP, now, devices=devices), [Publish(rollout.target, components, "group")]
    actions = [Publish(Target(kind="device", name=c), components, "canary") for c in canaries]
    return _move(rollout, Phase.CANARY, now, devices=devices, canaries=canaries), actions


def _canary(rollout: Rollout, view: View, now: float, _stale: float):
    outcome = dict(rollout.outcome)
    for device in rollout.canaries:
        found = view.finals.get((device, rollout.deployments.get(f"device:{device}", "")))
        if found is not None:
            outcome[device] = found[0].value
            if found[0] != S.SUCCEEDED:
                return _abort(rollout, now, f"canary {device} ended {found[0].value}: {found[1]}", "canary", outcome)
    if all(outcome.get(d) == S.SUCCEEDED.value for d in rollout.canaries):
        return _move(rollout, Phase.SOAK, now, outcome=outcome), []
    if now - rollout.phase_since > rollout.policy.health_timeout_s:
        waiting = [d for d in rollout.canaries if d not in outcome]
        reason = f"canary {', '.join(waiting)} did not finish within {rollout.policy.health_timeout_s:g} s"
        return _abort(rollout, now, reason, "canary", outcome)
    return rollout.model_copy(update={"outcome": outcome}), []


def _soak(rollout: Rollout, view: View, now: float, stale_after_s: float):
    for device in rollout.canaries:
        state, at = view.status.get(device, ("", None))
        if at is not None and at >= rollout.phase_since and state in UNHEALTHY_STATUS:
            return _abort(rollout, now, f"canary {device} reported status {state!r} during the soak", "canary")
        if at is not None and now - at > stale_after_s:
            return _abort(rollout, now, f"canary {device} stopped reporting status ({now - at:.0f} s)", "canary")
    if now - rollout.phase_since < rollout.policy.soak_s:
        return rollout, []
    members = sorted({*rollout.devices, *view.members})
    return _move(rollout, Phase.GROUP, now, devices=members), [
        Publish(rollout.target, tuple(rollout.components), "group")
    ]


def _group(rollout: Rollout, view: View, now: float, _stale: float):
    deployment_id = rollout.deployments.get(str(rollout.target), "")
    devices = sorted({*rollout.devices, *view.members})
    outcome = dict(rollout.outcome)
    failed = []
    for device in devices:
        found = view.finals.get((device, deployment_id))
        if found is not None:
            outcome[device] = found[0].value
            if found[0] != S.SUCCEEDED:
                failed.append(f"{device} ended {found[0].value}: {found[1]}")
    if failed and len(failed) / len(devices) > rollout.policy.max_failure_fraction:
        reason = f"{len(failed)} of {len(devices)} devices failed ({'; '.join(failed)})"
        return _abort(rollout.model_copy(update={"devices": devices}), now, reason, "group", outcome)
    waiting = [d for d in devices if d not in outcome]
    if not waiting:
        reason = f"{len(failed)} of {len(devices)} failed within the threshold" if failed else ""
        return _finish(rollout, now, devices, outcome, reason)
    if now - rollout.phase_since > rollout.policy.health_timeout_s:
        reason = f"no final report within {rollout.policy.health_timeout_s:g} s from {', '.join(waiting)}"
        return _finish(rollout, now, devices, outcome, reason)
    return rollout.model_copy(update={"devices": devices, "outcome": outcome}), []


def _finish(rollout: Rollout, now: float, devices: list[str], outcome: dict, reason: str):
    clear = [Clear(Target(kind="device", name=c)) for c in rollout.canaries]  # the group deployment covers them now
    return _move(rollout, Phase.SUCCEEDED, now, devices=devices, outcome=outcome, reason=reason), clear


def _abort(rollout: Rollout, now: float, reason: str, scope: str, outcome: dict | None = None):
    targets = [Target(kind="device", name=c) for c in rollout.canaries] if scope == "canary" else [rollout.target]
    if rollout.previous:
        actions: list[Action] = [Publish(t, tuple(rollout.previous), "rollback") for t in targets]
    else:
        actions = [Clear(t) for t in targets]
        reason += "; no previous version to return to, the retained deployment was withdrawn"
    changes = {"reason": reason} | ({"outcome": outcome} if outcome is not None else {})
    return _move(rollout, Phase.ABORTED, now, **changes), actions
