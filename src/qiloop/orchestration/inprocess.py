"""The loop through the asset graph in this process: what the daemon would do, one step at a time.

For the demo and tests, which need no webserver or daemon: :func:`run_turn` runs
assets of the graph (by default one turn: snapshot → dataset and candidate →
gate → version → rollout) with ``dg.materialize``; :class:`LocalLoop` also
evaluates the triggers (a sensor tick with its stored cursor, its run requests
executed once per run key, as the daemon does) on a persistent instance, and
says which trigger started each run (:class:`Tick`, ``Turn.sensor``, ``Turn.run_key``).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from qiloop.orchestration.definitions import build_definitions, loop_assets
from qiloop.orchestration.resources import resources_for

TURN = ("label_snapshot", "training_dataset", "trained_candidate", "model_version", "rollout")
_CURSOR_KEY = "qiloop/sensor_cursor/{}"
SENSOR_TAG, RUN_KEY_TAG = "dagster/sensor_name", "dagster/run_key"


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
        failure: The failed steps' messages.
        job: The job that ran (empty for an ad-hoc selection).
        tags: The run's tags (``dagster/sensor_name`` and ``dagster/run_key`` when a trigger started it).
        seconds: Wall-clock seconds of the run in this process.
    """

    success: bool
    run_id: str
    materialized: dict[str, dict[str, Any]] = field(default_factory=dict)
    gate_passed: bool | None = None
    gate: dict[str, Any] = field(default_factory=dict)
    skipped: tuple[str, ...] = ()
    failure: str = ""
    job: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def figure(self, asset: str, name: str, default: Any = None) -> Any:
        """One metadata value of a materialised asset."""
        return self.materialized.get(asset, {}).get(name, default)

    @property
    def sensor(self) -> str | None:
        """The trigger that started the run, None when a person or a test did."""
        return self.tags.get(SENSOR_TAG)

    @property
    def run_key(self) -> str | None:
        """The run key of the event that started it (one run per key, ever)."""
        return self.tags.get(RUN_KEY_TAG)

    @property
    def step_seconds(self) -> float:
        """Seconds the materialised steps say they worked (their ``seconds`` metadata); the rest is Dagster's."""
        values = (figures.get("seconds") for figures in self.materialized.values())
        return float(sum(v for v in values if isinstance(v, int | float)))


@dataclass(frozen=True)
class Tick:
    """One evaluation of a trigger: the runs it started, or why it started none.

    Attributes:
        sensor: The sensor's name.
        runs: The runs started (one per new run key), in order.
        skip_reason: The sensor's reason for asking for nothing (empty when it asked).
        replayed: Run keys the sensor asked for that already had a run (nothing started for them).
        seconds: Seconds the sensor's evaluation took (the runs not included).
    """

    sensor: str
    runs: tuple[Turn, ...] = ()
    skip_reason: str = ""
    replayed: tuple[str, ...] = ()
    seconds: float = 0.0


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


def turn_of(
    result: dg.ExecuteInProcessResult, selection: Sequence[str] = (), *, tags: Mapping[str, str] | None = None,
    seconds: float = 0.0,
) -> Turn:  # fmt: skip
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
    failures = [_failure(e) for e in result.all_events if e.is_step_failure]
    skipped = tuple(name for name in selection if name not in materialized)
    return Turn(
        result.success, result.run_id, materialized, gate_passed, gate, skipped, "\n".join(failures),
        job=result.job_def.name, tags=dict(tags or {}), seconds=round(seconds, 3),
    )  # fmt: skip


class LocalLoop:
    """The definitions, their triggers and a persistent instance, driven from this process.

    Args:
        settings: qiloop's settings.
        instance: Where runs, cursors and results are kept (default: ``<home>/dagster``, persistent).
        log_level: The level of the runs' log (e.g. ``INFO``: the steps' own lines, without Dagster's
            event lines); unset: Dagster's default.
        on_log: Called with ``(step, message)`` for each line the steps log, instead of Dagster's console log.
        swap: Resources to replace or change by key (see ``resources_for``).
    """

    def __init__(
        self, settings, instance: dg.DagsterInstance | None = None, *, log_level: str | None = None,
        on_log: Callable[[str, str], None] | None = None, **swap: Any,
    ):  # fmt: skip
        self.settings = settings
        self.resources = resources_for(settings, **swap)
        self.defs = build_definitions(training_profile=settings.training_profile, resources=self.resources)
        if on_log is not None:
            self.defs = dg.Definitions.merge(self.defs, dg.Definitions(loggers={"console": forwarding_logger(on_log)}))
        if instance is None:
            folder = Path(settings.home) / "dagster"
            folder.mkdir(parents=True, exist_ok=True)
            # No usage statistics sent from here (and no welcome banner printed into the host's output).
            instance = dg.DagsterInstance.local_temp(tempdir=str(folder), overrides={"telemetry": {"enabled": False}})
        self.instance = instance
        self.log_level = log_level

    def tick(self, sensor: str, run_config: Mapping[str, Any] | None = None) -> list[Turn]:
        """Evaluate ``sensor`` once from its stored cursor and run what it asks for (once per run key).

        Args:
            sensor: The sensor's name (``camera_folder``, ``labels_wanted``, ``labels_approved``, ``model_approved``).
            run_config: Run config merged over each request's (what a person adds when launching a run).
        """
        return list(self.evaluate(sensor, run_config).runs)

    def evaluate(self, sensor: str, run_config: Mapping[str, Any] | None = None) -> Tick:
        """:meth:`tick`, with what the trigger said when it started nothing, and its runs' trigger tags."""
        definition = self.defs.resolve_sensor_def(sensor)
        key = _CURSOR_KEY.format(sensor)
        cursor = self.instance.run_storage.get_cursor_values({key}).get(key)
        started = time.perf_counter()
        with dg.build_sensor_context(
            instance=self.instance, cursor=cursor, resources=self.resources, definitions=self.defs
        ) as context:
            data = definition.evaluate_tick(context)
        seconds = time.perf_counter() - started
        turns, replayed = [], []
        for request in data.run_requests or []:
            tags = {**(request.tags or {}), SENSOR_TAG: sensor}
            if request.run_key:
                if self._seen(sensor, request.run_key):
                    replayed.append(request.run_key)
                    continue
                tags[RUN_KEY_TAG] = request.run_key
            config = merged(request.run_config or {}, run_config or {})
            turns.append(self.run_job(definition.job_name, config, tags))
        if data.cursor is not None and data.cursor != cursor:
            self.instance.run_storage.set_cursor_values({key: data.cursor})
        return Tick(sensor, tuple(turns), data.skip_message or "", tuple(replayed), round(seconds, 3))

    def run_job(
        self, job: str, run_config: Mapping[str, Any] | None = None, tags: Mapping[str, str] | None = None
    ) -> Turn:
        """Execute a job now: ``ingest``, ``open_labeling_job``, ``training``, ``deployment`` or ``delta_upkeep``."""
        definition = self.defs.resolve_job_def(job)
        config = dict(run_config or {})
        if self.log_level:
            config = merged(config, {"loggers": {"console": {"config": {"log_level": self.log_level}}}})
        started = time.perf_counter()
        with signals_kept():
            result = definition.execute_in_process(
                run_config=config, instance=self.instance, tags=dict(tags or {}), raise_on_error=False
            )
        selection = (
            [k.to_user_string() for k in definition.asset_layer.selected_asset_keys] if definition.asset_layer else []
        )
        return turn_of(result, selection, tags=tags, seconds=time.perf_counter() - started)

    def _seen(self, sensor: str, run_key: str) -> bool:
        tags = {SENSOR_TAG: sensor, RUN_KEY_TAG: run_key}
        return bool(self.instance.get_run_ids(dg.RunsFilter(tags=tags), limit=1))


def forwarding_logger(on_log: Callable[[str, str], None]) -> dg.LoggerDefinition:
    """A Dagster logger that hands each line a step logs to ``on_log(step, message)``; Dagster's own events stay out.

    Its config is the console logger's (``log_level``, ``name``), so it can stand in for it.
    """

    @dg.logger(
        config_schema={
            "log_level": dg.Field(str, is_required=False, default_value="INFO"),
            "name": dg.Field(str, is_required=False, default_value="qiloop.orchestration"),
        },
        description="Hands the steps' log lines to the host process.",
    )
    def forward(init_context: dg.InitLoggerContext) -> logging.Logger:
        config = init_context.logger_config
        logger = logging.Logger(config["name"], level=str(config["log_level"]).upper())
        logger.addHandler(_Forward(on_log))
        return logger

    return forward


class _Forward(logging.Handler):
    def __init__(self, on_log: Callable[[str, str], None]) -> None:
        super().__init__()
        self.on_log = on_log

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        if meta.get("dagster_event") is not None:  # Dagster's own events (step started, output, ...)
            return
        self.on_log(str(meta.get("step_key") or ""), str(meta.get("orig_message", record.getMessage())))


def merged(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``extra`` laid over ``base``, mappings merged key by key (run config from a trigger, and what a person adds).

    Example:
        >>> merged({"ops": {"train": {"config": {"profile": "quick"}}}}, {"ops": {"train": {"config": {"epochs": 1}}}})
        {'ops': {'train': {'config': {'profile': 'quick', 'epochs': 1}}}}
    """
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def _failure(event: dg.DagsterEvent) -> str:
    """A failed step's message with the error at its root (Dagster's own message names only the step)."""
    error = getattr(event.event_specific_data, "error", None)
    while error is not None and error.cause is not None:
        error = error.cause
    return f"{event.message or ''} {error.message.strip() if error is not None else ''}".strip()


def _plain(metadata: Mapping[str, Any]) -> dict[str, Any]:
    return {name: getattr(value, "value", value) for name, value in metadata.items()}
