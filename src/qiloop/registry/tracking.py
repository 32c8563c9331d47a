"""MLflow tracking behind one client: where runs and artefacts live, experiments, candidate runs.

Embedded default: a SQLite file and local artefacts under ``QILOOP_HOME/mlflow``;
any MLflow tracking URI works (PostgreSQL, a tracking server), so moving the
registry is a change of URL. ``mlflow ui --backend-store-uri <the same URI>``
shows every run and version.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from qiloop.core.errors import NotFoundError, StoreError
from qiloop.registry import tags as T
from qiloop.registry.backend import (
    artifact_root_uri,
    database_uri,
    error_code,
    is_remote,
    load_mlflow,
    probe_database,
    redact,
    sqlite_path,
)
from qiloop.registry.runs import CandidateRun, metric_key

if TYPE_CHECKING:
    from typing_extensions import Self


class Tracking:
    """MLflow tracking through one client, no global MLflow state: experiments and candidate runs.

    Args:
        tracking_uri: Any MLflow tracking URI (``sqlite:///...``, ``postgresql://...``, ``http://...``).
        artifact_root: Folder or URL (``s3://...``) where new experiments keep artefacts;
            default: ``artifacts/`` beside a SQLite file, or the tracking server's choice.
        registry_uri: Model-registry URI when it differs from the tracking URI.
    """

    def __init__(self, tracking_uri: str, artifact_root: str | Path | None = None, *, registry_uri: str | None = None):
        self.tracking_uri = tracking_uri
        self.registry_uri = registry_uri or tracking_uri
        self.artifact_root = artifact_root_uri(artifact_root, tracking_uri)
        self._client: Any = None

    @classmethod
    def from_settings(cls, settings: Any) -> Self:
        """The registry the settings name; artefacts default to ``<home>/mlflow/artifacts``."""
        uri = settings.mlflow_tracking_uri
        root = getattr(settings, "mlflow_artifact_root", None)
        if not root and not is_remote(uri):
            root = Path(settings.home) / "mlflow" / "artifacts"
        return cls(uri, root)

    @property
    def client(self) -> Any:
        """The ``MlflowClient``, opened (and the store checked) on first use."""
        if self._client is None:
            mlflow = load_mlflow()
            db = sqlite_path(self.tracking_uri)
            if db is not None:
                db.parent.mkdir(parents=True, exist_ok=True)
            try:
                probe_database(database_uri(self.tracking_uri))
                client = mlflow.MlflowClient(
                    tracking_uri=database_uri(self.tracking_uri), registry_uri=database_uri(self.registry_uri)
                )
                client.search_experiments(max_results=1)
            except Exception as exc:
                raise StoreError(
                    f"cannot open the MLflow tracking store {redact(self.tracking_uri)}: {exc}",
                    hint="check QILOOP_MLFLOW_TRACKING_URI and that its database or server is reachable",
                ) from exc
            self._client = client
        return self._client

    def experiment_id(self, name: str) -> str:
        """The id of the experiment ``name``, created (with our artefact root) when missing."""
        client = self.client
        exp = client.get_experiment_by_name(name)
        if exp is None:
            location = f"{self.artifact_root}/{metric_key(name).replace('/', '_')}" if self.artifact_root else None
            try:
                return client.create_experiment(name, artifact_location=location)
            except Exception as exc:  # another process created it first
                if error_code(exc) != "RESOURCE_ALREADY_EXISTS":
                    raise
                exp = client.get_experiment_by_name(name)
        if exp.lifecycle_stage == "deleted":
            client.restore_experiment(exp.experiment_id)
        return exp.experiment_id

    def start_candidate_run(
        self, experiment: str, params: Any = None, tags: dict[str, Any] | None = None, run_name: str | None = None
    ) -> CandidateRun:
        """Start the MLflow run of one candidate; use it as a context manager.

        Example:
            >>> with registry.start_candidate_run("scratch-detector", {"epochs": 2}) as run:  # doctest: +SKIP
            ...     run.log_metric("train/box_loss", 1.7, step=1)
        """
        tags = {k: v for k, v in (tags or {}).items() if v is not None}
        if tags.get(T.GIT):
            tags.setdefault("mlflow.source.git.commit", tags[T.GIT])
        run = self.client.create_run(
            self.experiment_id(experiment), tags={k: str(v) for k, v in tags.items()}, run_name=run_name
        )
        candidate = CandidateRun(self.client, run.info.run_id, run.info.experiment_id, run.info.artifact_uri)
        try:
            if params:
                candidate.log_params(params)
        except BaseException:
            candidate.end("FAILED")
            raise
        return candidate

    def run(self, run_id: str) -> CandidateRun:
        """Reopen a run by id (to read its tags and metrics or log more)."""
        try:
            run = self.client.get_run(run_id)
        except Exception as exc:
            if error_code(exc) == "RESOURCE_DOES_NOT_EXIST":
                raise NotFoundError(f"no MLflow run {run_id!r}", hint="see qiloop models show REF for run ids") from exc
            raise
        return CandidateRun(self.client, run.info.run_id, run.info.experiment_id, run.info.artifact_uri)
