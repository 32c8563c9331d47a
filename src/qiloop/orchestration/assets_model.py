"""The model half of the loop as assets: dataset and candidate (one training step), and the model version.

``train`` is one step that writes two assets (the dataset it built and the
candidate it trained, evaluated and gated): the loop's training use case does
them together, and the dataset is only worth keeping with the model trained on
it. The candidate passes Dagster's blocking check ``gate`` (see
:mod:`qiloop.orchestration.checks`) before ``model_version`` may approve it and
``rollout`` may ship it; a refused candidate is never registered.
"""

import time
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace
from typing import Literal

import dagster as dg
from pydantic import Field

from qiloop.orchestration.assets_data import label_snapshot
from qiloop.orchestration.history import latest_metadata, latest_timestamp
from qiloop.orchestration.policies import GROUP, NETWORK_RETRY, TRAINING_POOL
from qiloop.orchestration.resources import (
    ImageStoreResource,
    LabelStoreResource,
    LoopResource,
    RegistryResource,
)

DATASET, CANDIDATE = "training_dataset", "trained_candidate"

# Across runs (e.g. a candidate materialised alone from the UI), the version step follows a new candidate
# only once the candidate's blocking checks passed: Dagster's blocking stops steps only inside one run.
APPROVAL_AUTOMATION = dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()


class TrainingConfig(dg.Config):
    """What to train: a profile and ``key=value`` overrides, as ``qiloop train`` takes them."""

    profile: str | None = Field(default=None, description="Training profile; unset: the settings' training_profile.")
    overrides: list[str] = Field(
        default_factory=list, description="key=value overrides (epochs=3, gate.min_recall=0.7)."
    )
    start_from: str | None = Field(
        default=None, description="Weights (.pt) to fine-tune instead of the profile's model."
    )
    min_images: int = Field(default=8, ge=1, description="Refuse to train on fewer approved images.")


def resolve_training(config: TrainingConfig, loop: LoopResource):
    """The :class:`~qiloop.training.config.TrainConfig` a run trains with (profile, then overrides)."""
    from qiloop.training.config import TrainConfig

    settings = loop.loop_settings()
    profile = config.profile or settings.training_profile
    return TrainConfig.resolve(profile=profile, overrides=[*loop.training_overrides, *config.overrides])


def build_train_asset(code_version: str) -> dg.AssetsDefinition:
    """The training step, its candidate tagged with ``code_version`` (see :mod:`~qiloop.orchestration.code_version`)."""

    @dg.multi_asset(
        name="train",
        specs=[
            dg.AssetSpec(
                DATASET, deps=[label_snapshot], group_name=GROUP, kinds={"python"},
                description="The dataset the candidate was trained on: the label snapshot split by group.",
            ),
            dg.AssetSpec(
                CANDIDATE, deps=[DATASET], group_name=GROUP, code_version=code_version, kinds={"pytorch", "onnx"},
                description="A model trained, exported (FP32 + INT8, parity-checked) and evaluated on the test "
                "split, with the gate's decision recorded on its MLflow run.",
            ),
        ],
        pool=TRAINING_POOL,
    )  # fmt: skip
    def train(
        context: dg.AssetExecutionContext,
        config: TrainingConfig,
        images: ImageStoreResource,
        labels: LabelStoreResource,
        registry: RegistryResource,
        loop: LoopResource,
    ):
        from qiloop.loop.train import train_candidate
        from qiloop.orchestration.code_version import training_code_version

        train_config = resolve_training(config, loop)
        snapshot = latest_metadata(context.instance, "label_snapshot").get("label_store_version")
        labels_read_at = latest_timestamp(context.instance, "label_snapshot") or time.time()
        if isinstance(snapshot, int | float) and snapshot >= 0:  # train on exactly the snapshot taken before
            train_config = train_config.model_copy(update={"as_of": int(snapshot)})
        configured = train_config.gate
        # The candidate is registered pending approval at most; approving it is the next step's, behind the gate.
        gate = configured.model_copy(update={"approval": "manual"})
        workdir = loop.loop_settings().home / "runs" / f"dagster-{context.run.run_id}"
        context.log.info(f"training {train_config.name} from {config.start_from or train_config.model} in {workdir}")
        candidate = train_candidate(
            train_config, gate, images=images.open(), labels=labels.open(), registry=registry.open(),
            workdir=workdir, start_from=config.start_from, min_images=config.min_images,
            on_step=lambda step: context.log.info(f"step: {step}"), on_epoch=lambda row: _log_epoch(context, row),
        )  # fmt: skip
        yield dg.MaterializeResult(
            asset_key=DATASET,
            metadata={
                "images": candidate.images,
                **{f"split/{k}": v for k, v in candidate.splits.items()},
                "label_store_version": -1 if candidate.label_store_version is None else candidate.label_store_version,
                "fingerprint": candidate.dataset,
            },
        )
        yield dg.MaterializeResult(
            asset_key=CANDIDATE,
            metadata={
                **candidate.metadata(),
                **{f"test_int8/{k}": v for k, v in candidate.int8_metrics.items()},
                **{f"operating_confidence/{k}": v for k, v in candidate.operating_confidence.items()},
                "package_bytes": _size(candidate.package),
                "run_id": candidate.run_id,
                "registered": candidate.version or "",
                "champion": candidate.champion or "",
                "gate_metric": configured.metric,
                "gate_approval": configured.approval,
                "reasons": "; ".join(candidate.reasons),
                "started_from": candidate.started_from,
                "weights": dg.MetadataValue.path(str(candidate.weights)),
                "package": dg.MetadataValue.path(str(candidate.package)),
                "parity": candidate.parity,
                "gate_checks": dg.MetadataValue.json([asdict(check) for check in candidate.checks]),
                "run_code_version": training_code_version(train_config),
                "labels_read_at": labels_read_at,  # epoch seconds: labels approved later are new to the next turn
            },
        )

    return train


class ApprovalConfig(dg.Config):
    """How the version step approves: as the gate configuration says, or always for a person."""

    approval: Literal["gate", "auto", "manual"] = Field(
        default="gate", description="gate: the training gate's approval mode; auto: the loop's promotion rule; "
        "manual: leave it pending for a person (qiloop models approve).",
    )  # fmt: skip
    min_gain: float = Field(default=0.0, ge=0, description="How much better than production it must be to approve.")


@dg.asset(
    group_name=GROUP,
    deps=[CANDIDATE],
    retry_policy=NETWORK_RETRY,
    automation_condition=APPROVAL_AUTOMATION,
    description="The candidate's registered model version, approved (becoming production) when the loop's "
    "promotion rule holds: it passed the gate and beats production on the same test images.",
    kinds={"mlflow"},
)
def model_version(
    context: dg.AssetExecutionContext, config: ApprovalConfig, registry: RegistryResource
) -> dg.MaterializeResult:
    from qiloop.loop.approve import approve_version, promotion

    candidate = latest_metadata(context.instance, CANDIDATE)
    if not candidate.get("gate/passed") or not candidate.get("registered"):
        raise dg.Failure(
            description="the gate refused the candidate, so it is not registered: "
            + (candidate.get("reasons") or "no passing candidate is recorded"),
            metadata={"run_id": str(candidate.get("run_id", ""))},
        )
    ref, metric = str(candidate["registered"]), str(candidate.get("gate_metric", "mAP50"))
    mode = candidate.get("gate_approval", "manual") if config.approval == "gate" else config.approval
    models = registry.open()
    decision = promotion(_as_candidate(candidate, metric), metric=metric, min_gain=config.min_gain)
    approved = False
    if mode == "auto" and decision.promote:
        approve_version(models, ref, reason=decision.reason, actor="qiloop orchestration (promotion rule)")
        approved = True
    reason = decision.reason if mode == "auto" else "left pending for a person to approve (approval: manual)"
    context.log.info(f"{ref}: {'approved' if approved else 'not approved'} — {reason}")
    production = models.production(ref.split("/")[0])
    return dg.MaterializeResult(
        metadata={
            "version": int(ref.rsplit("/", 1)[1]),
            "approved": int(approved),
            "production_version": production.version if production is not None else -1,
            f"test/{metric}": float(candidate.get(f"test/{metric}", float("nan"))),
            "test/recall": float(candidate.get("test/recall", float("nan"))),
            "ref": ref,
            "reason": reason,
        }
    )


def _as_candidate(metadata: dict, metric: str) -> SimpleNamespace:
    """The fields of a trained candidate the promotion rule reads, from the candidate's recorded metadata."""
    mine, theirs = metadata.get(f"test/{metric}"), metadata.get(f"champion/{metric}")
    return SimpleNamespace(
        version=metadata.get("registered") or None,
        reasons=tuple(r for r in str(metadata.get("reasons", "")).split("; ") if r),
        champion=metadata.get("champion") or None,
        metrics={} if mine is None else {metric: float(mine)},
        champion_metrics={} if theirs is None else {metric: float(theirs)},
    )


def _log_epoch(context: dg.AssetExecutionContext, row: dict) -> None:
    context.log.info(f"epoch {int(row.get('epoch', 0))}: validation mAP50 {row.get('mAP50', float('nan')):.3f}")


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())
