"""The rollout state machine, table by table: phases, actions, aborts and roll-backs."""

from __future__ import annotations

import pytest

from qiloop.core.deployments import ComponentRef, DeploymentState, RolloutPolicy, Target
from qiloop.fleet.rollout import Clear, Phase, Publish, Rollout, View, advance, choose_canaries, recorded

S = DeploymentState
NEW = [ComponentRef(name="model", version="2", digest="b" * 64)]
OLD = [ComponentRef(name="model", version="1", digest="a" * 64)]
GROUP = Target(kind="group", name="line")
MEMBERS = ("d1", "d2", "d3")
CANARY = choose_canaries(list(MEMBERS), 1, "line")[0]
REST = [d for d in MEMBERS if d != CANARY]
POLICY = RolloutPolicy(canary=1, soak_s=10, max_failure_fraction=0.2, health_timeout_s=60)


def _rollout(phase=Phase.PENDING, *, previous=OLD, since=0.0, **fields) -> Rollout:
    return Rollout(target=GROUP, components=NEW, previous=previous, policy=POLICY, phase=phase, created_at=0,
                   phase_since=since, **fields)  # fmt: skip


def _in_canary(**fields) -> Rollout:
    return _rollout(Phase.CANARY, devices=list(MEMBERS), canaries=[CANARY],
                    deployments={f"device:{CANARY}": "c1"}, **fields)  # fmt: skip


def _in_group(**fields) -> Rollout:
    return _rollout(Phase.GROUP, since=100, devices=list(MEMBERS), canaries=[CANARY],
                    deployments={f"device:{CANARY}": "c1", "group:line": "g1"}, **fields)  # fmt: skip


def _finals(*entries) -> dict:
    return {(device, dep): (state, "detail") for device, dep, state in entries}


def test_canaries_are_stable_and_spread():
    assert choose_canaries(["a", "b", "c", "d"], 2, "x") == choose_canaries(["d", "c", "b", "a"], 2, "x")
    assert len(choose_canaries(["a", "b"], 5, "x")) == 2
    assert choose_canaries([], 1, "x") == []
    picked = {choose_canaries([f"dev-{i}" for i in range(10)], 1, f"group-{g}")[0] for g in range(20)}
    assert len(picked) > 1  # not always the alphabetically first device


@pytest.mark.parametrize(
    ("rollout", "view", "now", "phase", "actions"),
    [
        # start: canary devices get a per-device deployment, nobody else anything
        (
            _rollout(),
            View(members=MEMBERS),
            0,
            Phase.CANARY,
            [Publish(Target(kind="device", name=CANARY), tuple(NEW), "canary")],
        ),
        # start with canary 0: the group at once
        (
            _rollout().model_copy(update={"policy": RolloutPolicy(canary=0)}),
            View(members=MEMBERS),
            0,
            Phase.GROUP,
            [Publish(GROUP, tuple(NEW), "group")],
        ),
        # a device target skips the canary
        (
            _rollout().model_copy(update={"target": Target(kind="device", name="d9")}),
            View(),
            0,
            Phase.GROUP,
            [Publish(Target(kind="device", name="d9"), tuple(NEW), "group")],
        ),
        # an empty group: publish for whoever joins later
        (_rollout(), View(members=()), 0, Phase.GROUP, [Publish(GROUP, tuple(NEW), "group")]),
        # canary still installing: wait
        (_in_canary(), View(members=MEMBERS), 30, Phase.CANARY, []),
        # canary succeeded: soak, nothing published yet
        (_in_canary(), View(members=MEMBERS, finals=_finals((CANARY, "c1", S.SUCCEEDED))), 30, Phase.SOAK, []),
        # canary failed: abort and roll the canary back
        (
            _in_canary(),
            View(members=MEMBERS, finals=_finals((CANARY, "c1", S.FAILED_ROLLBACK_COMPLETE))),
            30,
            Phase.ABORTED,
            [Publish(Target(kind="device", name=CANARY), tuple(OLD), "rollback")],
        ),
        # canary refused the document: abort as well
        (
            _in_canary(),
            View(members=MEMBERS, finals=_finals((CANARY, "c1", S.REJECTED))),
            30,
            Phase.ABORTED,
            [Publish(Target(kind="device", name=CANARY), tuple(OLD), "rollback")],
        ),
        # canary silent past the health timeout: abort
        (
            _in_canary(),
            View(members=MEMBERS),
            61,
            Phase.ABORTED,
            [Publish(Target(kind="device", name=CANARY), tuple(OLD), "rollback")],
        ),
        # a report of another deployment does not count
        (_in_canary(), View(members=MEMBERS, finals=_finals((CANARY, "other", S.SUCCEEDED))), 30, Phase.CANARY, []),
        # first-ever deployment fails: nothing to return to, withdraw the retained document
        (
            _in_canary(previous=[]),
            View(members=MEMBERS, finals=_finals((CANARY, "c1", S.FAILED_ROLLBACK_COMPLETE))),
            30,
            Phase.ABORTED,
            [Clear(Target(kind="device", name=CANARY))],
        ),
        # soak not over: wait
        (
            _rollout(Phase.SOAK, since=100, devices=list(MEMBERS), canaries=[CANARY]),
            View(members=MEMBERS),
            105,
            Phase.SOAK,
            [],
        ),
        # soak over and healthy: the group deployment
        (
            _rollout(Phase.SOAK, since=100, devices=list(MEMBERS), canaries=[CANARY]),
            View(members=MEMBERS, status={CANARY: ("running", 108.0)}),
            110,
            Phase.GROUP,
            [Publish(GROUP, tuple(NEW), "group")],
        ),
        # the canary's app stopped during the soak: abort
        (
            _rollout(Phase.SOAK, since=100, devices=list(MEMBERS), canaries=[CANARY]),
            View(members=MEMBERS, status={CANARY: ("stopped", 103.0)}),
            105,
            Phase.ABORTED,
            [Publish(Target(kind="device", name=CANARY), tuple(OLD), "rollback")],
        ),
        # a stop before the soak began (the old version making way) is fine
        (
            _rollout(Phase.SOAK, since=100, devices=list(MEMBERS), canaries=[CANARY]),
            View(members=MEMBERS, status={CANARY: ("stopped", 99.0)}),
            110,
            Phase.GROUP,
            [Publish(GROUP, tuple(NEW), "group")],
        ),
        # the canary stopped reporting status: abort
        (
            _rollout(Phase.SOAK, since=100, devices=list(MEMBERS), canaries=[CANARY]),
            View(members=MEMBERS, status={CANARY: ("running", 5.0)}),
            105,
            Phase.ABORTED,
            [Publish(Target(kind="device", name=CANARY), tuple(OLD), "rollback")],
        ),
        # group: everyone succeeded; the canary's device topic is withdrawn (the group covers it)
        (
            _in_group(),
            View(members=MEMBERS, finals=_finals(*[(d, "g1", S.SUCCEEDED) for d in MEMBERS])),
            120,
            Phase.SUCCEEDED,
            [Clear(Target(kind="device", name=CANARY))],
        ),
        # group: one of three failed > 20 %: roll the group back
        (
            _in_group(),
            View(members=MEMBERS, finals=_finals((REST[0], "g1", S.FAILED_ROLLBACK_COMPLETE))),
            120,
            Phase.ABORTED,
            [Publish(GROUP, tuple(OLD), "rollback")],
        ),
        # group: still waiting for some
        (_in_group(), View(members=MEMBERS, finals=_finals((REST[0], "g1", S.SUCCEEDED))), 120, Phase.GROUP, []),
        # group: silent devices past the timeout end the rollout (they get it when they come back)
        (
            _in_group(),
            View(members=MEMBERS, finals=_finals((REST[0], "g1", S.SUCCEEDED))),
            161,
            Phase.SUCCEEDED,
            [Clear(Target(kind="device", name=CANARY))],
        ),
    ],
)
def test_transitions(rollout, view, now, phase, actions):
    new, done = advance(rollout, view, now, stale_after_s=90)
    assert new.phase == phase, new.reason
    assert done == actions
    if phase == Phase.ABORTED:
        assert new.reason


def test_failures_within_the_threshold_do_not_abort():
    rollout = _in_group().model_copy(update={"policy": RolloutPolicy(max_failure_fraction=0.5)})
    finals = _finals((REST[0], "g1", S.FAILED_ROLLBACK_COMPLETE), (REST[1], "g1", S.SUCCEEDED),
                     (CANARY, "g1", S.SUCCEEDED))  # fmt: skip
    new, _ = advance(rollout, View(members=MEMBERS, finals=finals), 120)
    assert new.phase == Phase.SUCCEEDED
    assert "1 of 3 failed" in new.reason
    assert new.outcome[REST[0]] == "FAILED_ROLLBACK_COMPLETE"


def test_a_device_that_joins_during_the_group_phase_is_counted():
    view = View(members=(*MEMBERS, "d4"), finals=_finals(*[(d, "g1", S.SUCCEEDED) for d in MEMBERS]))
    new, _ = advance(_in_group(), view, 120)
    assert new.phase == Phase.GROUP and "d4" in new.devices


def test_zero_soak_goes_to_the_group_in_one_step():
    rollout = _in_canary().model_copy(update={"policy": RolloutPolicy(canary=1, soak_s=0)})
    new, actions = advance(rollout, View(members=MEMBERS, finals=_finals((CANARY, "c1", S.SUCCEEDED))), 30)
    assert new.phase == Phase.GROUP and actions == [Publish(GROUP, tuple(NEW), "group")]


def test_advance_is_idempotent_and_ended_rollouts_stay():
    view = View(members=MEMBERS, finals=_finals((CANARY, "c1", S.SUCCEEDED)))
    soak, _ = advance(_in_canary(), view, 30)
    again, actions = advance(soak, view, 31)
    assert again == soak and actions == []
    for phase in (Phase.SUCCEEDED, Phase.ABORTED, Phase.SUPERSEDED):
        ended = _rollout(phase)
        assert advance(ended, view, 1000) == (ended, [])


def test_recorded_keeps_deployment_ids():
    rollout = _rollout()
    with_canary = recorded(rollout, Publish(Target(kind="device", name="d1"), tuple(NEW), "canary"), "x")
    assert with_canary.deployments == {"device:d1": "x"}
    with_rollback = recorded(with_canary, Publish(GROUP, tuple(OLD), "rollback"), "y")
    assert with_rollback.rollback == ["y"] and with_rollback.deployments == {"device:d1": "x"}
