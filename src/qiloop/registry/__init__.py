"""The model registry: MLflow tracking and model registry behind qiloop's records.

This package is the only place that imports mlflow, and only when a registry is
used: importing ``qiloop.registry`` stays light.

Example:
    >>> from qiloop.registry import ModelRegistry  # doctest: +SKIP
    >>> registry = ModelRegistry.from_settings(settings)
    >>> with registry.start_candidate_run("scratch-detector", params) as run:
    ...     run.log_metric("mAP50", 0.81)
    ...     registry.register(run, package_dir, approval="Approved")
    >>> registry.get("scratch-detector@production").ref
    'scratch-detector/1'
"""

from qiloop.core.models import PRODUCTION, ApprovalStatus, ModelVersion
from qiloop.registry.mlflow_registry import DEFAULT_MODEL_NAME, PACKAGE, ModelRegistry
from qiloop.registry.refs import LATEST, ModelRef, parse_ref
from qiloop.registry.runs import CandidateRun

__all__ = [
    "DEFAULT_MODEL_NAME",
    "LATEST",
    "PACKAGE",
    "PRODUCTION",
    "ApprovalStatus",
    "CandidateRun",
    "ModelRef",
    "ModelRegistry",
    "ModelVersion",
    "parse_ref",
]
