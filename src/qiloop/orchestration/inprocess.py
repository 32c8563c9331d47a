"""The loop through the asset graph in this process: what the daemon would do, one step at a time.

For the demo and tests, which need no webserver or daemon: :func:`run_turn` runs
assets of the graph (by default one turn: snapshot → dataset and candidate →
gate → version → rollout) with ``dg.materialize``; :class:`LocalLoop` also
evaluates the triggers (a sensor tick with its stored cursor, its run requests
executed once per run key, as the daemon does) on a persistent instance.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from qiloop.orchestration.definitions import build_definitions, loop_assets
from qiloop.orchestration.resources import resources_for

TURN = ("label_snapshot", "training_dataset", "trained_candidate", "model_version", "rollout")
_CURSOR_KEY = "qiloop/sensor_cursor/{}"


@dataclass(frozen=True)
class Turn:
    """What one run did: the assets it materialised (with their metadata) and the gate's result.

    Attributes:
        success: The run succeeded (a failed gate is a success with later steps skipped).
        run_id: Dagster's run id.
        materialized: Asset name → its metadata as plain values, for the assets materialised.
        gate_passed: The gate check's result; None when the run did not train.
        gate: The gate check's metadata and ``description``.
        skipped: Selected assets the run did not materialise (blocked by the gate, or failed).
    """

    success: bool
    run_id: str
    materialized: dict[str, dict[str, Any]] = field(default_factory=dict)
    gate_passed: bool | None = None
    gate: dict[str, Any] = field(default_factory=dict)
    skipped: tuple[str, ...] = ()
    failure: str = ""

    def figure(self, asset: str, name: str, default: Any = None) -> Any:
        """One metadata value of a materialised asset."""
        return self.materialized.get(asset, {}).get(name, default)


def run_turn(
    settings,
    *,
    selection: Sequence[str] = TURN,
    run_config: Mapping[str, Any] | None = None,
    instance: dg.DagsterInstance | None = None,
    **swap: dg.ConfigurableResource | Mapping[str, Any],
) -> Turn:
    """Materialise ``selection`` of the asset graph for ``settings``, in this process.

    Args:
        settings: qiloop's settings (the stores, registry and fleet of that home).
        selection: Asset names (default: one turn from the label snapshot to the rollout).
        run_config: Dagster run config, e.g. ``{"ops": {"train": {"config": {"overrides": ["epochs=1"]}}}}``.
        instance: Where the run is recorded (default: an ephemeral one).
        swap: Resources to replace or change by key (``fleet={"wait_s": 60}``, see ``resources_for``).

    Example:
        A turn that fine-tunes the last turn's weights, approves the candidate if it beats
        production, and waits up to a minute for the rollout (a fleet controller must run)::

            first = run_turn(settings, run_config={"ops": {"train": {"config": {"overrides": ["epochs=3"]}}}})
            second = run_turn(
                settings,
                run_config={"ops": {"train": {"config": {"start_from": first.figure("trained_candidate", "weights")}}}},
                fleet={"wait_s": 60},
            )
            second.gate_passed, second.figure("model_version", "approved"), second.skipped
    """
    with signals_kept():
        result = dg.materialize(
            loop_assets(settings.training_profile),
            selection=list(selection),
            run_config=dict(run_config or {}),
            instance=instance,
            resources=resources_for(settings, **swap),
            raise_on_error=False,
        )
    return turn_of(result, selection)


@contextlib.contextmanager
def signals_kept() -> Iterator[None]:
    """Give SIGTERM and SIGINT back their handlers after an in-process run.

    Dagster's in-process execution maps SIGTERM to ``KeyboardInterrupt`` and
    leaves it so: a host process (the demo, a service, a test session) would
    otherwise turn every later SIGTERM into an exception.
    """
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for signum, handler in saved.items():
            if handler is not None:
                signal.signal(signum, handler)


def turn_of(result: dg.ExecuteInProcessResult, selection: Sequence[str] = ()) -> Turn:
    """A :class:`Turn` read from an in-process run's events."""
    materialized: dict[str, dict[str, Any]] = {}
    for event in result.all_events:
        if event.is_step_materialization:
            m = event.event_specific_data.materialization
            materialized[m.asset_key.to_user_string()] = _plain(m.metadata)
    gate_passed, gate = None, {}
    for evaluation in result.get_asset_check_evaluations():
        if evaluation.check_name == "gate":
            gate_passed = bool(evaluation.passed)
            gate = {**_plain(evaluation.metadata), "description": evaluation.description or ""}
    failures = [e.message or "" for e in result.all_events if e.is_step_failure]
    skipped = tuple(name for name in selection if name not in materialized)
    return Turn(result.success, result.run_id, materialized, gate_passed, gate, skipped, "\n".join(failures))


class LocalLoop:
    """The definitions, their triggers and a persistent instance, driven from this process.

    Args:
        settings: qiloop's settings.
        instance: Where runs, cursors and results are kept (default: ``<home>/dagster``, persistent).
        swap: Resources to replace by key.
    """

    def __init__(self, settings, instance: dg.DagsterInstance | None = None, **swap: Any):
        self.settings = settings
        self.resources = resources_for(settings, **swap)
        self.defs = build_definitions(training_profile=settings.training_profile, resources=self.resources)
        if instance is None:
            folder = Path(settings.home) / "dagster"
            folder.mkdir(parents=True, exist_ok=True)
            instance = dg.DagsterInstance.local_temp(tempdir=str(folder))
        self.instance = instance

    def tick(self, sensor: str) -> list[Turn]:
        """Evaluate ``sensor`` once from its stored cursor and run what it asks for (once per run key)."""
        definition = self.defs.resolve_sensor_def(sensor)
        key = _CURSOR_KEY.format(sensor)
        cursor = self.instance.run_storage.get_cursor_values({key}).get(key)
        with dg.build_sensor_context(
            instance=self.instance, cursor=cursor, resources=self.resources, definitions=self.defs
        ) as context:
            data = definition.evaluate_tick(context)
        turns = []
        for request in data.run_requests or []:
            tags = {**(request.tags or {}), "dagster/sensor_name": sensor}
            if request.run_key:
                if self._seen(sensor, request.run_key):
                    continue
                tags["dagster/run_key"] = request.run_key
            turns.append(self.run_job(definition.job_name, request.run_config, tags))
        if data.cursor is not None and data.cursor != cursor:
            self.instance.run_storage.set_cursor_values({key: data.cursor})
        return turns

    def run_job(
        self, job: str, run_config: Mapping[str, Any] | None = None, tags: Mapping[str, str] | None = None
    ) -> Turn:
        """Execute a job now: ``ingest``, ``open_labeling_job``, ``training``, ``deployment`` or ``delta_upkeep``."""
        definition = self.defs.resolve_job_def(job)
        with signals_kept():
            result = definition.execute_in_process(
                run_config=dict(run_config or {}), instance=self.instance, tags=dict(tags or {}), raise_on_error=False
            )
        selection = (
            [k.to_user_string() for k in definition.asset_layer.selected_asset_keys] if definition.asset_layer else []
        )
        return turn_of(result, selection)

    def _seen(self, sensor: str, run_key: str) -> bool:
        tags = {"dagster/sensor_name": sensor, "dagster/run_key": run_key}
        return bool(self.instance.get_run_ids(dg.RunsFilter(tags=tags), limit=1))


def _plain(metadata: Mapping[str, Any]) -> dict[str, Any]:
    return {name: getattr(value, "value", value) for name, value in metadata.items()}
