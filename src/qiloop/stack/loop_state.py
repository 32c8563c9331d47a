"""Where the loop stands, read from the stores, the labelling database, the registry and the fleet.

Read-only: a backend that was never written (no image store, no ``labeling.db``, no
MLflow database, no ``fleet.db`` under the home) counts as empty and is not created.
A backend that cannot be read is named in :attr:`LoopState.unavailable` with the
reason, and the rest is still reported.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from qiloop.core.errors import QiloopError
from qiloop.settings import Settings


@dataclass(frozen=True)
class OpenJob:
    """A labelling job that is still open, with its images by state."""

    name: str
    images: int
    labeling: int
    verifying: int
    approved: int


@dataclass(frozen=True)
class DeviceState:
    """A device as the fleet controller knows it: groups, what it runs, its last status."""

    device_id: str
    groups: list[str]
    running: dict[str, str]
    status: str | None
    seen_at: float


@dataclass
class LoopState:
    """The loop's state: images waiting, jobs open, labels since the last training, production, devices.

    ``labels_since_training`` counts approved labels that the last registered model
    did not train on (every approved label when none was trained yet).
    """

    images: int = 0
    images_waiting: int = 0
    feedback_waiting: int = 0
    jobs_open: list[OpenJob] = field(default_factory=list)
    approved_labels: int = 0
    labels_since_training: int = 0
    last_trained: str | None = None
    production: str | None = None
    production_metrics: dict[str, float] = field(default_factory=dict)
    devices: list[DeviceState] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def loop_state(settings: Settings, model_name: str | None = None) -> LoopState:
    """Read the loop's state for the home ``settings`` names (see the module's notes on what is not created)."""
    state = LoopState()
    approved: set[str] = set()
    queued: set[str] = set()
    labels = None
    if _exists(settings.label_store_url):
        labels = _section(state, "label store", lambda: _label_store(settings))
        if labels is not None:
            approved = labels.labeled_sha256s()
            state.approved_labels = len(approved)
    if _exists(_sqlite_file(settings.labeling_db_url) or settings.labeling_db_url):
        queued = _section(state, "labelling database", lambda: _jobs(settings, state)) or set()
    if _exists(settings.image_store_url.rstrip("/") + "/_index"):  # the image index (storage.image_store)
        _section(state, "image store", lambda: _images(settings, state, approved | queued))
    if _exists(_sqlite_file(settings.mlflow_tracking_uri) or settings.mlflow_tracking_uri):
        _section(state, "model registry", lambda: _registry(settings, state, labels, model_name))
    elif labels is not None:
        state.labels_since_training = state.approved_labels
    if (settings.home / "fleet.db").exists():
        _section(state, "fleet", lambda: _devices(settings, state))
    return state


def _label_store(settings: Settings):
    from qiloop.labelstore import LabelStore

    return LabelStore.from_settings(settings)


def _jobs(settings: Settings, state: LoopState) -> set[str]:
    from qiloop.labeling import jobs
    from qiloop.labeling.db import Database

    database = Database.from_url(settings.labeling_db_url, create=False)
    try:
        with database.session() as session:
            state.jobs_open = [
                OpenJob(j.name, j.images, j.labeling, j.verifying, j.approved)
                for j in jobs.list_jobs(session)
                if j.state == jobs.JobState.OPEN.value
            ]
            return jobs.queued_sha256s(session)
    finally:
        database.engine.dispose()


def _images(settings: Settings, state: LoopState, taken: set[str]) -> None:
    """Count images and feedback columnar (one column of the Delta tables, no records: cheap at 10^6 images)."""
    from qiloop.storage.backends import delta_options
    from qiloop.storage.delta_since import rows_since
    from qiloop.storage.feedback import FEEDBACK_FOLDER

    url = settings.image_store_url.rstrip("/")
    options = delta_options(url, settings.storage_options(url))
    stored = _distinct(rows_since(f"{url}/_index", "ingested_at", None, ["sha256"], options).rows, "sha256")
    sent_back = _distinct(
        rows_since(f"{url}/{FEEDBACK_FOLDER}", "received_at", None, ["image_sha256"], options).rows, "image_sha256"
    )
    state.images = len(stored)
    state.images_waiting = _not_in(stored, taken)
    state.feedback_waiting = _not_in(sent_back, taken)


def _distinct(rows, column: str):
    import pyarrow as pa
    import pyarrow.compute as pc

    if not rows.num_rows:
        return pa.array([], pa.string())
    return pc.unique(rows.column(column).cast(pa.string()))


def _not_in(values, taken: set[str]) -> int:
    """How many of ``values`` (distinct strings) are not in ``taken``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not len(values) or not taken:
        return len(values)
    return len(values) - pc.sum(pc.is_in(values, value_set=pa.array(list(taken), pa.string()))).as_py()


def _registry(settings: Settings, state: LoopState, labels, model_name: str | None) -> None:
    from qiloop.core.errors import NotFoundError
    from qiloop.registry import DEFAULT_MODEL_NAME, ModelRegistry

    registry = ModelRegistry.from_settings(settings)
    try:
        versions = registry.versions(model_name or DEFAULT_MODEL_NAME)
    except NotFoundError:
        versions = []
    production = next((v for v in versions if v.is_production), None)
    if production is not None:
        state.production = production.ref
        state.production_metrics = dict(production.metrics)
    trained = [v for v in versions if v.label_store_version is not None]
    if labels is None:
        return
    if not trained:
        state.labels_since_training = state.approved_labels
        return
    last = trained[-1]
    state.last_trained = last.ref
    try:
        trained_on = _approved_ids(labels, last.label_store_version)
    except NotFoundError:  # trained on another label store (as the console counts it): every approved label is new
        trained_on = set()
    state.labels_since_training = len(_approved_ids(labels) - trained_on)


def _approved_ids(labels, version: int | None = None) -> set[str]:
    """Record ids of the latest approved label of each image, now or at a label-store version."""
    return set(labels.latest_table(as_of=version, columns=["record_id"]).column("record_id").to_pylist())


def _devices(settings: Settings, state: LoopState) -> None:
    from qiloop.fleet.registry_db import FleetDB

    fleet = FleetDB.from_settings(settings)
    try:
        state.devices = [
            DeviceState(d.device_id, list(d.groups), dict(d.running), d.status_state, d.seen_at)
            for d in fleet.devices()
        ]
    finally:
        fleet.close()


def _section(state: LoopState, name: str, read):
    """Run one read; a qiloop error (a store down, an extra missing) is reported under ``name``, not raised."""
    try:
        return read()
    except QiloopError as exc:
        state.unavailable[name] = exc.message + (f" ({exc.hint})" if exc.hint else "")
        return None


def _sqlite_file(url: str) -> str | None:
    return url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else None


def _exists(url: str) -> bool:
    """Whether a local path exists; a remote URL (s3://, postgresql://, http://) is assumed to."""
    if "://" in url and not url.startswith("file://"):
        return True
    return Path(url.removeprefix("file://")).exists()
