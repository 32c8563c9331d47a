"""The model registry on MLflow: model versions, approval and the ``production`` alias.

A model package is registered as plain run artefacts (``package/`` of the run):
``create_model_version(name, source=<run artefact URI>/package, run_id)``, which
MLflow 3 accepts for any folder, so no MLflow model flavour or logged model is
involved and the package stays byte-for-byte what training wrote. Approval,
lineage and metrics are model-version tags (see ``registry.tags``); the newest
Approved version carries the alias ``production``.
"""

from __future__ import annotations

import getpass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qiloop.core.errors import ConfigurationError, NotFoundError, QiloopError
from qiloop.core.models import PRODUCTION, ApprovalStatus, ModelVersion, production_version
from qiloop.core.package import read_manifest
from qiloop.registry import tags as T
from qiloop.registry.approvals import ApprovalLedger, ApprovalRecord, check_standing
from qiloop.registry.backend import database_uri, error_code, sqlite_path
from qiloop.registry.fetch import fetch_package
from qiloop.registry.refs import ModelRef, check_name, parse_ref, resolve
from qiloop.registry.runs import CandidateRun
from qiloop.registry.tracking import Tracking

if TYPE_CHECKING:
    from typing_extensions import Self

DEFAULT_MODEL_NAME = "scratch-detector"
PACKAGE = "package"


class ModelRegistry(Tracking):
    """MLflow tracking plus model registry behind qiloop's own records and rules.

    Args:
        tracking_uri: Any MLflow tracking URI (``sqlite:///...``, ``postgresql://...``, ``http://...``).
        artifact_root: Folder or URL (``s3://...``) where new experiments keep artefacts;
            default: ``artifacts/`` beside a SQLite file, or the tracking server's choice.
        registry_uri: Model-registry URI when it differs from the tracking URI.
        approvals: qiloop's approval ledger file; default: ``approvals.db`` beside a SQLite
            tracking database (``from_settings``: ``<home>/mlflow/approvals.db``).
    """

    def __init__(
        self,
        tracking_uri: str,
        artifact_root: str | Path | None = None,
        *,
        registry_uri: str | None = None,
        approvals: str | Path | None = None,
    ):
        super().__init__(tracking_uri, artifact_root, registry_uri=registry_uri)
        db = sqlite_path(tracking_uri)
        path = approvals if approvals is not None else (db.parent / "approvals.db" if db is not None else None)
        self._ledger = ApprovalLedger(path) if path is not None else None

    @classmethod
    def from_settings(cls, settings: Any) -> Self:
        """The registry the settings name, with the approval ledger in the home."""
        registry = super().from_settings(settings)
        registry._ledger = ApprovalLedger(Path(settings.home) / "mlflow" / "approvals.db")
        return registry

    @property
    def ledger(self) -> ApprovalLedger:
        """qiloop's approval record for this registry."""
        if self._ledger is None:
            raise ConfigurationError(
                f"no approval ledger for the registry at {self.tracking_uri}",
                hint="build the registry from settings (QILOOP_HOME) or give ModelRegistry(approvals=PATH)",
            )
        return self._ledger

    def register(
        self,
        run: CandidateRun | str,
        package_dir: Path,
        *,
        name: str = DEFAULT_MODEL_NAME,
        approval: ApprovalStatus | str = ApprovalStatus.PENDING,
        tags: dict[str, Any] | None = None,
        metrics: dict[str, float] | None = None,
        reason: str | None = None,
    ) -> ModelVersion:
        """Log a verified model package to the run (``package/``) and register it as a new version.

        Lineage tags (``dataset_snapshot``, ``label_store_version``, ``git_commit``)
        come from ``tags``, else the run's tags, else the package manifest; metrics
        from the manifest, updated by ``metrics``. An Approved version becomes
        ``production`` (the newest approved version always carries it).

        Raises:
            QiloopError: The run failed the gate (its ``gate_passed`` tag is ``false``).
            NotFoundError, InvalidRecordError: The folder is not an intact model package.
        """
        check_name(name)
        run = self.run(run) if isinstance(run, str) else run
        state = T.approval_of(approval)
        if state == ApprovalStatus.REJECTED:
            raise ConfigurationError("a new version cannot be registered as Rejected", hint="do not register it")
        manifest = read_manifest(Path(package_dir))
        run_tags = run.tags()
        if run_tags.get("gate_passed") == "false":
            raise QiloopError(
                f"run {run.run_id} failed the gate and is not registered: {run_tags.get('gate_reasons', '')}",
                hint="improve the model or change the gate configuration, then train again",
            )
        run.log_artifact(package_dir, PACKAGE)
        extra = dict(tags or {})
        lineage = {
            T.DATASET: manifest.dataset_snapshot.get("fingerprint"),
            T.LABEL_VERSION: manifest.label_store_version,
            T.GIT: manifest.git_commit,
        }
        for key, from_manifest in lineage.items():  # explicit tags, then the run's tags, then the manifest
            given = extra.pop(key, None)
            lineage[key] = next((v for v in (given, run_tags.get(key), from_manifest) if v is not None), None)
        version_tags = T.version_tags(
            approval=state,
            metrics={**manifest.metrics, **(metrics or {})},
            files=manifest.files,
            dataset_snapshot=lineage[T.DATASET],
            label_store_version=lineage[T.LABEL_VERSION],
            git_commit=lineage[T.GIT],
            reason=reason,
            extra=extra,
        )
        self._ensure_model(name)
        mv = self.client.create_model_version(
            name, source=f"{run.artifact_uri}/{PACKAGE}", run_id=run.run_id, tags=version_tags
        )
        run.set_tags({"registered_model": name, "registered_version": mv.version})
        version = self.get(ModelRef(name, version=int(mv.version)))
        if state == ApprovalStatus.APPROVED:
            gate = {k: v for k, v in run_tags.items() if k.startswith("gate")}
            self.ledger.append(
                name,
                version.version,
                state,
                actor="gate (approval: auto)",
                files=version.files,
                figures={"metrics": version.metrics, "gate": gate},
                reason=reason,
            )
        self._sync_production(name)
        return self.get(version.ref)

    def names(self) -> list[str]:
        """Every registered model name, sorted."""
        found, token = [], None
        while True:
            page = self.client.search_registered_models(max_results=1000, page_token=token)
            found += [m.name for m in page]
            token = page.token
            if not token:
                return sorted(found)

    def versions(self, name: str = DEFAULT_MODEL_NAME) -> list[ModelVersion]:
        """All versions of a model, oldest first, with approval, lineage, metrics and aliases.

        Raises:
            NotFoundError: No model of that name; the hint lists the registered ones.
        """
        client = self.client
        try:
            model = client.get_registered_model(check_name(name))
        except Exception as exc:
            if error_code(exc) != "RESOURCE_DOES_NOT_EXIST":
                raise
            known = ", ".join(self.names()) or "none yet (train one with qiloop train)"
            raise NotFoundError(f"no registered model named {name!r}", hint=f"registered models: {known}") from exc
        aliases: dict[int, list[str]] = {}
        for alias, version in (model.aliases or {}).items():
            aliases.setdefault(int(version), []).append(alias)
        found, token = [], None
        while True:
            page = client.search_model_versions(f"name = '{name}'", max_results=1000, page_token=token)
            found += list(page)
            token = page.token
            if not token:
                break
        records = [
            T.version_from_tags(
                name=name,
                version=mv.version,
                tags=mv.tags or {},
                created_ms=mv.creation_timestamp,
                run_id=mv.run_id,
                source=mv.source,
                aliases=aliases.get(int(mv.version), ()),
            )
            for mv in found
        ]
        return sorted(records, key=lambda v: v.version)

    def get(self, ref: str | ModelRef, default_name: str | None = DEFAULT_MODEL_NAME) -> ModelVersion:
        """The version a reference names: ``name/3``, ``name@production``, ``name@latest``, ``name``.

        Raises:
            NotFoundError: Unknown model, version or alias (the hint lists the versions).
            ConfigurationError: The text is not a reference.
        """
        parsed = parse_ref(ref, default_name) if isinstance(ref, str) else ref
        return resolve(parsed, self.versions(parsed.name))

    def production(self, name: str = DEFAULT_MODEL_NAME) -> ModelVersion | None:
        """The version devices and the endpoint should run, or ``None`` when none is approved."""
        try:
            versions = self.versions(name)
        except NotFoundError:
            return None
        return next((v for v in versions if v.is_production), None)

    def approve(self, ref: str | ModelRef, reason: str | None = None, *, actor: str | None = None) -> ModelVersion:
        """Approve a version, on record (who, when, its figures); the newest approved one is ``production``."""
        return self._set_approval(ref, ApprovalStatus.APPROVED, reason, actor)

    def reject(self, ref: str | ModelRef, reason: str, *, actor: str | None = None) -> ModelVersion:
        """Reject a version, on record; if it was production, the previous approved version takes over."""
        if not reason or not reason.strip():
            raise ConfigurationError(
                "rejecting a version needs a reason", hint="say why, e.g. --reason 'misses scratches'"
            )
        return self._set_approval(ref, ApprovalStatus.REJECTED, reason, actor)

    def approved(
        self, ref: str | ModelRef | None = None, default_name: str | None = DEFAULT_MODEL_NAME
    ) -> ModelVersion:
        """The version a reference names, if qiloop's approval record stands behind it.

        What serving and deployment run. ``name@production`` must be the version the
        record makes production (an alias moved in MLflow's UI is refused, naming the
        approved version); ``name/3`` must stand approved; in both cases with the
        very files that were approved.

        Raises:
            ApprovalError: The record does not stand behind it (the message says which version does).
            NotFoundError: Unknown model, version or alias.
        """
        if ref is None:
            ref = f"{default_name or DEFAULT_MODEL_NAME}@{PRODUCTION}"
        parsed = parse_ref(ref, default_name) if isinstance(ref, str) else ref
        version = resolve(parsed, self.versions(parsed.name))
        check_standing(version, self.ledger, via_alias=parsed.alias)
        return version

    def approvals(self, name: str = DEFAULT_MODEL_NAME) -> list[ApprovalRecord]:
        """Every approval decision about a model, oldest first."""
        return self.ledger.history(check_name(name))

    def download(self, ref: str | ModelRef, dest: Path) -> Path:
        """Download a version's model package into the new folder ``dest``, verified (see ``fetch_package``)."""
        return fetch_package(self.get(ref), Path(dest), database_uri(self.tracking_uri))

    # -- internals ------------------------------------------------------------------------------

    def _ensure_model(self, name: str) -> None:
        try:
            self.client.create_registered_model(name, description="qiloop model; versions carry approval_status")
        except Exception as exc:
            if error_code(exc) != "RESOURCE_ALREADY_EXISTS":
                raise

    def _set_approval(
        self, ref: str | ModelRef, state: ApprovalStatus, reason: str | None, actor: str | None
    ) -> ModelVersion:
        version = self.get(ref)
        key = str(version.version)
        try:
            gate = self.run(version.run_id).tags() if version.run_id else {}
        except QiloopError:  # the run was deleted: the decision stands on the version's own figures
            gate = {}
        self.ledger.append(
            version.name,
            version.version,
            state,
            actor=actor or getpass.getuser(),
            files=version.files,
            figures={"metrics": version.metrics, "gate": {k: v for k, v in gate.items() if k.startswith("gate")}},
            reason=reason,
        )
        self.client.set_model_version_tag(version.name, key, T.APPROVAL, state.value)
        self.client.set_model_version_tag(version.name, key, T.APPROVAL_TIME, datetime.now(timezone.utc).isoformat())
        if reason:
            self.client.set_model_version_tag(version.name, key, T.REASON, reason)
        elif version.reason is not None:
            self.client.delete_model_version_tag(version.name, key, T.REASON)
        self._sync_production(version.name)
        return self.get(ModelRef(version.name, version=version.version))

    def _sync_production(self, name: str) -> None:
        versions = self.versions(name)
        decisions = self.ledger.latest(name) if self._ledger is not None else {}
        if decisions:  # qiloop's record decides; the tags are for people reading MLflow
            existing = {v.version for v in versions}
            target = production_version({v: r.state for v, r in decisions.items() if v in existing})
        else:  # a registry from before the record: its tags, until the first decision on record
            target = production_version({v.version: v.approval for v in versions})
        current = next((v.version for v in versions if v.is_production), None)
        if target == current:
            return
        if target is None:
            self.client.delete_registered_model_alias(name, PRODUCTION)
        else:
            self.client.set_registered_model_alias(name, PRODUCTION, str(target))
