"""The jobs the triggers start: one per step of the loop, and the Delta upkeep.

Asset jobs select assets (their checks come along): ``ingest`` (new images, and the
labelling job once enough wait, in the same run), ``open_labeling_job``, ``training``
(snapshot → dataset and candidate → gate → version) and ``deployment`` (the rollout).
Job names differ from step names: Dagster refuses a job and an op of the same name.
``delta_upkeep`` is an op job: keeping tables healthy produces no asset.

The two light jobs run their steps in the run's own process (Dagster's in-process
executor): the default executor starts one more Python process per step, which
imports Dagster and qiloop again (seconds each on a busy laptop) for a step that
itself takes well under a second. Both carry ``OPENS_JOBS``, whose concurrency limit
of 1 (``dagster.yaml``) keeps two runs from opening jobs over the same images at once.
"""

import json
import time

import dagster as dg
from pydantic import Field

from qiloop.orchestration.policies import NETWORK_RETRY
from qiloop.orchestration.resources import ImageStoreResource, LabelStoreResource

OPENS_JOBS = "qiloop/opens_labeling_jobs"
ingest_job = dg.define_asset_job(
    "ingest",
    selection=["new_images", "labeling_job"],
    executor_def=dg.in_process_executor,
    tags={OPENS_JOBS: "true"},
    description="Camera files into the image store; a labelling job over them once enough images wait.",
)
labeling_job_job = dg.define_asset_job(
    "open_labeling_job",
    selection=["labeling_job"],
    executor_def=dg.in_process_executor,
    tags={OPENS_JOBS: "true"},
    description="A labelling job over the images waiting for labels.",
)
training_job = dg.define_asset_job(
    "training",
    selection=["label_snapshot", "training_dataset", "trained_candidate", "model_version"],
    description="Snapshot → dataset → train, export, evaluate → gate (blocking) → register and approve.",
)
rollout_job = dg.define_asset_job(
    "deployment", selection=["rollout"], description="A canary rollout of the approved version to its device group."
)


# On Kubernetes (the K8sRunLauncher of deploy/dagster/values.yaml), a run with this tag runs in a pod on a GPU
# node with one GPU; the training triggers add it, and device=0 to the training config, when asked to
# (LoopResource gpu_training).
GPU_TRAINING_TAGS = {
    "dagster-k8s/config": json.dumps(
        {
            "container_config": {"resources": {"limits": {"nvidia.com/gpu": "1"}, "requests": {"nvidia.com/gpu": "1"}}},
            "pod_spec_config": {"node_selector": {"nvidia.com/gpu.present": "true"}},
        }
    )
}


def training_request(gpu: bool) -> tuple[dict[str, str], dict]:
    """Tags and run config of a training run: on a GPU node (and device 0) when ``gpu``, else as configured."""
    if not gpu:
        return {}, {}
    return dict(GPU_TRAINING_TAGS), {"ops": {"train": {"config": {"overrides": ["device=0"]}}}}


class UpkeepConfig(dg.Config):
    """How long replaced files of the image index and feedback log are kept before vacuum deletes them."""

    retention_hours: int = Field(default=168, ge=0, description="Vacuum retention for the image store's tables.")


@dg.op(retry_policy=NETWORK_RETRY, description="Compact, checkpoint and vacuum the image index and feedback log; "
       "compact and checkpoint the label store (never vacuumed: every version stays readable).")  # fmt: skip
def compact_tables(
    context: dg.OpExecutionContext, config: UpkeepConfig, images: ImageStoreResource, labels: LabelStoreResource
) -> dg.Output:
    from qiloop.labelstore.upkeep import upkeep
    from qiloop.storage.upkeep import upkeep_image_store

    started = time.perf_counter()
    url, options = images.location()
    done = {u.table.rstrip("/").rsplit("/", 1)[-1].strip("_"): u for u in upkeep_image_store(
        url, options, retention_hours=config.retention_hours)}  # fmt: skip
    label = upkeep(labels.open())
    if label is not None:
        done["labels"] = label
    metadata: dict[str, float] = {"seconds": round(time.perf_counter() - started, 3)}
    for name, result in done.items():
        metadata |= result.metadata(name)
        context.log.info(
            f"{name}: {result.files_before} → {result.files_after} files, {result.files_vacuumed} vacuumed"
        )
    return dg.Output(None, metadata=metadata)


@dg.job(description="Delta upkeep: the image index, feedback log and label store, merged into few files.")
def delta_upkeep():
    compact_tables()
