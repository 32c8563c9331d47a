"""A candidate run: everything one training attempt logs to MLflow tracking.

Every candidate model is one MLflow run, whether or not it passes the gate, so
a failed attempt stays visible with its reasons. The run is a context manager:
it ends FINISHED, or FAILED when the block raises (the error propagates).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

MAX_PARAM_LENGTH = 6000  # MLflow's limit on a parameter value


def metric_key(key: str) -> str:
    """A metric, parameter or tag key MLflow accepts, keeping it readable.

    Characters MLflow refuses become ``_`` (ultralytics' ``metrics/mAP50(B)``
    becomes ``metrics/mAP50_B``); empty path segments are dropped.

    Example:
        >>> metric_key("metrics/mAP50-95(B)")
        'metrics/mAP50-95_B'
    """
    text = re.sub(r"[^/\w.\- ]+", "_", str(key))
    parts = [p.strip("_") or p for p in text.split("/") if p not in ("", ".", "..")]
    cleaned = "/".join(p for p in parts if p)
    return cleaned or "_"


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested parameters as flat ``a.b.c`` keys with string values MLflow can store.

    Values longer than MLflow's limit are cut (the full config is logged as YAML).
    """
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{metric_key(key)}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, prefix=f"{name}."))
            continue
        text = str(value)
        flat[name] = text if len(text) <= MAX_PARAM_LENGTH else text[: MAX_PARAM_LENGTH - 1] + "…"
    return flat


def _as_data(obj: Any) -> Any:
    dump = getattr(obj, "model_dump", None)
    return dump(mode="json") if callable(dump) else obj


class CandidateRun:
    """One MLflow run, reached through a ready client (no global MLflow state).

    Args:
        client: An ``mlflow.MlflowClient`` for the tracking store.
        run_id: The run's id.
        experiment_id: Its experiment.
        artifact_uri: Where its artefacts live.
    """

    def __init__(self, client: Any, run_id: str, experiment_id: str, artifact_uri: str) -> None:
        self.client = client
        self.run_id = run_id
        self.experiment_id = experiment_id
        self.artifact_uri = artifact_uri

    def __enter__(self) -> CandidateRun:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.end("FINISHED")
        else:
            self.end("KILLED" if issubclass(exc_type, KeyboardInterrupt) else "FAILED")

    def end(self, status: str = "FINISHED") -> None:
        """Mark the run ended (FINISHED, FAILED or KILLED)."""
        self.client.set_terminated(self.run_id, status=status)

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log (nested) parameters; a pydantic model is logged field by field."""
        from mlflow.entities import Param

        flat = flatten(_as_data(params))
        items = [Param(k, v) for k, v in flat.items()]
        for start in range(0, len(items), 100):  # MLflow takes at most 100 params per batch
            self.client.log_batch(self.run_id, params=items[start : start + 100])

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        """Log one metric value; give ``step`` (the epoch) to build a learning curve."""
        self.client.log_metric(self.run_id, metric_key(key), float(value), step=step or 0)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Log several metrics at one step in a single call."""
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(metric_key(k), float(v), now, step or 0) for k, v in metrics.items() if v is not None]
        self.client.log_batch(self.run_id, metrics=items)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set run tags (values become strings; ``None`` values are skipped)."""
        from mlflow.entities import RunTag

        items = [RunTag(metric_key(k), str(v)) for k, v in tags.items() if v is not None]
        if items:
            self.client.log_batch(self.run_id, tags=items)

    def log_artifact(self, path: Path | str, artifact_path: str | None = None) -> None:
        """Log a file, or a folder's contents, under ``artifact_path`` of the run."""
        path = Path(path)
        if path.is_dir():
            self.client.log_artifacts(self.run_id, str(path), artifact_path)
        elif path.is_file():
            self.client.log_artifact(self.run_id, str(path), artifact_path)
        else:
            from qiloop.core.errors import NotFoundError

            raise NotFoundError(f"cannot log {path}: no such file or folder")

    def log_text(self, text: str, artifact_file: str) -> None:
        """Log a string as a file, e.g. ``reports/gate.txt``."""
        self.client.log_text(self.run_id, text, artifact_file)

    def log_json(self, data: Any, artifact_file: str) -> None:
        """Log data (or a pydantic model) as indented JSON."""
        self.log_text(json.dumps(_as_data(data), indent=2, default=str), artifact_file)

    def log_config(self, config: Any, artifact_file: str = "config.yaml") -> None:
        """Log the fully resolved configuration (mapping or pydantic model) as YAML."""
        import yaml

        self.log_text(yaml.safe_dump(_as_data(config), sort_keys=False), artifact_file)

    def tags(self) -> dict[str, str]:
        """The run's tags as stored."""
        return dict(self.client.get_run(self.run_id).data.tags)

    def params(self) -> dict[str, str]:
        """The run's parameters as stored (nested ones flattened with dots: ``gate.min_map50``)."""
        return dict(self.client.get_run(self.run_id).data.params)

    def metrics(self) -> dict[str, float]:
        """The latest value of each metric of the run."""
        return dict(self.client.get_run(self.run_id).data.metrics)

    def status(self) -> str:
        """RUNNING, FINISHED, FAILED or KILLED."""
        return self.client.get_run(self.run_id).info.status

    def log_onnx_model(self, model_path: Path | str, artifact_path: str = "onnx_model") -> None:
        """Log an ONNX file as an MLflow model (``MLmodel`` + signature), loadable with ``mlflow.pyfunc``.

        The signature is read from the graph: each input and output with its
        element type and shape. Requirements are given, not inferred (no pip runs).
        """
        import tempfile

        import mlflow.onnx
        import numpy as np
        import onnx
        from mlflow.models.signature import ModelSignature
        from mlflow.types.schema import Schema, TensorSpec
        from onnx import helper

        model = onnx.load(str(model_path))

        def specs(values) -> Schema:
            tensors = []
            for value in values:
                kind = value.type.tensor_type
                shape = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in kind.shape.dim)
                dtype = np.dtype(helper.tensor_dtype_to_np_dtype(kind.elem_type))
                tensors.append(TensorSpec(dtype, shape, value.name))
            return Schema(tensors)

        signature = ModelSignature(inputs=specs(model.graph.input), outputs=specs(model.graph.output))
        with tempfile.TemporaryDirectory(prefix="qiloop-onnx-") as tmp:
            folder = Path(tmp) / artifact_path
            requirements = ["onnx", "onnxruntime"]
            mlflow.onnx.save_model(
                model, folder, signature=signature, pip_requirements=requirements, save_as_external_data=False
            )
            self.log_artifact(folder, artifact_path)

    def log_dataset(
        self, name: str, digest: str, source: str, profile: Mapping[str, Any], context: str = "training"
    ) -> None:
        """Record the dataset the run used as an MLflow dataset input (its fingerprint is the digest)."""
        from mlflow.entities import Dataset, DatasetInput, InputTag

        dataset = Dataset(name, digest[:36], "qiloop-label-store", source, profile=json.dumps(_as_data(profile)))
        self.client.log_inputs(self.run_id, [DatasetInput(dataset, [InputTag("mlflow.data.context", context)])])
