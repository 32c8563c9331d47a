"""``qiloop demo``: two turns of the loop on embedded defaults, explained as they run.

Synthetic photos → image store → label import, a verifier's corrections and
point-in-time reads (a tour of the label store) → turn 1: a labelling job done by
bots, training, the gate, approval, a canary rollout to two simulated devices that
inspect new camera images and send uncertain ones back → turn 2: a labelling job
for that feedback, pre-labelled by the production model, a new model trained from
the new label-store version, the gate against production on the same test images,
and a rollout only when it is better → both turns side by side. The turns run
through the orchestration in this process: its triggers (Dagster sensors with
cursors and run keys) start each step, as the daemon would; each step is a
``qiloop.loop`` use case; the workforce and the devices are ``qiloop.sim``.
"""

from __future__ import annotations

import shutil
import time
from datetime import datetime, timedelta, timezone
from typing import Annotated

import typer
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from qiloop.cli.common import HomeOption, console, settings_for
from qiloop.cli.demo_report import print_orchestration_cost, print_side_by_side, print_turn, step
from qiloop.core.errors import require

# A model that inspects well sends few images back (2 of 60 in a run): in the demo each labelled one
# retrains; a real line waits for more (the retrain_after_labels setting).
RETRAIN_AFTER = 1


def demo(
    home: HomeOption = None,
    n: Annotated[int, typer.Option("--n", min=40, help="Synthetic images to generate.")] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the synthetic data.")] = 0,
    fresh: Annotated[bool, typer.Option("--fresh", help="Delete the home folder first.")] = False,
    epochs: Annotated[int, typer.Option("--epochs", min=1, help="Training epochs of turn 1 (quick profile).")] = 8,
    retrain_epochs: Annotated[
        int, typer.Option("--retrain-epochs", min=1, help="Epochs of turn 2, fine-tuning turn 1's model.")
    ] = 3,
    camera: Annotated[
        int, typer.Option("--camera", min=2, help="New camera images the two devices inspect in each turn.")
    ] = 60,
    retrain_after: Annotated[
        int, typer.Option("--retrain-after", min=1, help="Newly approved labels that start a training run.")
    ] = RETRAIN_AFTER,
) -> None:
    """Run two turns of the loop through the orchestration, in this process: label, train, gate, deploy, retrain.

    Dagster's triggers start each step (no daemon needed; needs the orchestrate extra). With a short
    training (--epochs 1) the gate refuses the model with its figures and nothing is deployed.
    """
    started = time.perf_counter()
    require("dagster", "orchestrate")  # before minutes of work: the turns run through the orchestration
    from qiloop.sim.turn_orchestrated import OrchestratedTurns

    imported = time.perf_counter() - started
    settings = settings_for(home)
    if fresh and settings.home.exists():
        shutil.rmtree(settings.home)
    settings.home.mkdir(parents=True, exist_ok=True)
    images, labels, cameras = _tour(settings, n, seed, camera)

    def runner(line, policy):
        return OrchestratedTurns.for_line(settings, line, policy=policy, retrain_after_labels=retrain_after)

    reports = _turns(
        settings, images, labels, cameras, seed=seed, epochs=epochs, retrain_epochs=retrain_epochs, runner=runner
    )
    print_side_by_side(reports)
    print_orchestration_cost(reports, import_s=imported)
    console.print(
        Panel(
            f"done in {time.perf_counter() - started:.1f} s — home: {settings.home}\n"
            f"try: qiloop labels stats --home {settings.home}\n"
            f"     qiloop models ls --home {settings.home}\n"
            f"     qiloop labeling serve --home {settings.home}\n"
            f"     mlflow ui --backend-store-uri {settings.mlflow_tracking_uri}\n"
            f"     DAGSTER_HOME={settings.home / 'dagster'} dagster dev -m qiloop.orchestration.definitions",
            title="qiloop demo",
        )
    )


def _tour(settings, n: int, seed: int, camera: int):
    """Steps 1-6: data, the image store, the label store's import, corrections and point-in-time reads."""
    from qiloop.core.records import LabelSource, LabelStatus
    from qiloop.labelstore import LabelStore
    from qiloop.labelstore.formats import labels_csv
    from qiloop.labelstore.importer import import_parsed
    from qiloop.loop.ingest import ingest_images
    from qiloop.storage import ImageStore
    from qiloop.synth import generate_dataset

    data_dir = settings.home / "demo-data"
    step(1, f"synthesise {n} metal-tag images (seed {seed}) and {2 * camera} new camera images for the line")
    unlabeled = max(1, n // 25)
    report = generate_dataset(data_dir, n, seed=seed, unlabeled=unlabeled, progress=True)
    shots = generate_dataset(settings.home / "camera-data", 2 * camera, seed=seed + 1000)
    files = sorted(p for p in (settings.home / "camera-data" / "images").rglob("*") if p.is_file())
    cameras = (files[:camera], files[camera:])
    console.print(f"  {report.images} images, {report.boxes} scratch boxes, {unlabeled} left unlabelled → {data_dir}")
    console.print(f"  {shots.images} camera images the devices will inspect, never seen by training")

    step(2, "ingest them into the content-addressed image store")
    images = ImageStore.from_settings(settings)
    ingest = ingest_images(images, [data_dir / "images"], source="camera:demo", progress=True)
    again = ingest_images(images, [data_dir / "images"], source="camera:demo")
    console.print(
        f"  {len(ingest.added)} added, {len(ingest.rejected)} rejected; "
        f"ingesting again adds {len(again.added)} ({again.duplicates} duplicates by sha256)"
    )

    step(3, "import the labels (reference labels.csv format)")
    labels = LabelStore.from_settings(settings)
    parsed = labels_csv.read(data_dir / "labels.csv")
    result = import_parsed(parsed, images, labels, images_root=data_dir)
    replay = import_parsed(parsed, images, labels, images_root=data_dir)
    console.print(
        f"  {result.written} records written at version {result.version}; "
        f"re-import writes {replay.written} ({replay.already_present} already present)"
    )
    imported_version = result.version

    step(4, "a verifier corrects two labels later (append-only: nothing is overwritten)")
    latest = sorted(labels.latest(), key=lambda r: r.image_uri)
    now = datetime.now(timezone.utc)
    rejected, adjusted = latest[0], latest[1]
    verified = dict(
        event_time=now, verifier="demo-verifier", source=LabelSource.HUMAN, labeling_job="verification/demo"
    )
    corrections = [
        _revise(rejected, status=LabelStatus.REJECTED, **verified),
        _revise(adjusted, annotations=adjusted.annotations[:-1], **verified),
    ]
    fix = labels.append(corrections)
    names = {r.sha256: r.original_name for r in (images.get(rejected.image_sha256), images.get(adjusted.image_sha256))}
    console.print(
        f"  rejected {names[rejected.image_sha256]}, adjusted {names[adjusted.image_sha256]} → version {fix.version}"
    )

    step(5, "point-in-time reads")
    before = now - timedelta(microseconds=1)
    table = Table("query", "approved images", "table version")
    for name, as_of in [
        (f"as of version {imported_version} (after import)", imported_version),
        ("as of a moment before the corrections", before),
        ("now", None),
    ]:
        snap = labels.snapshot(as_of=as_of)
        table.add_row(name, str(len(snap.record_ids)), str(snap.label_store_version))
    console.print(table)
    console.print(f"  history of {names[rejected.image_sha256]} (sha256 {rejected.image_sha256[:12]}…):")
    for r in labels.history(rejected.image_sha256):
        console.print(
            f"    {r.event_time:%Y-%m-%d %H:%M:%S}  {r.status.value:<9} {len(r.annotations)} boxes  {r.labeling_job}"
        )

    step(6, "the label store and the next labelling job's input")
    for key, value in labels.stats().items():
        console.print(f"  {key}: {value}")
    todo = images.unlabeled(labels.labeled_sha256s())
    console.print(f"  images without an approved label (next labelling job): {len(todo)}")
    return images, labels, cameras


def _turns(settings, images, labels, cameras, *, seed: int, epochs: int, retrain_epochs: int, runner=None) -> list:
    """Steps 7-8: the simulated line joins, then two turns of the loop (the second only after a deployment).

    ``runner(line, policy)`` builds the :data:`~qiloop.sim.turn.TurnRunner` once the line runs
    (default: :func:`~qiloop.sim.turn.run_turn`, the use cases called one after the other).
    """
    from qiloop.cli.common import result_line
    from qiloop.core.deployments import RolloutPolicy
    from qiloop.labeling.db import Database
    from qiloop.registry import ModelRegistry
    from qiloop.sim.devices import DEVICES, GROUP, SimulatedLine
    from qiloop.sim.turn import TurnPlan, World, run_turn
    from qiloop.training.gate import GateConfig

    step(7, f"two simulated devices ({', '.join(DEVICES)}) join the line {GROUP}")
    shown: list[int] = [0]

    def on_result(result) -> None:  # the first few results as they arrive; the rest are counted
        shown[0] += 1
        if shown[0] <= 4:
            console.print(Text("  ") + result_line(result), highlight=False, soft_wrap=True)

    db = Database.from_settings(settings)
    line = SimulatedLine.start(settings, on_result=on_result)
    reports, turn = [], run_turn
    try:
        console.print(f"  broker {line.broker_url}, file server {line.service.files_url}", highlight=False)
        world = World(settings, images, labels, ModelRegistry.from_settings(settings), db, line,
                      say=lambda text: console.print(f"  {text}", highlight=False, soft_wrap=True))  # fmt: skip
        # The default bar; a passing candidate is registered pending approval and the loop's promotion rule
        # approves it (better than production on the same test images, or the first that passes).
        gate = GateConfig(approval="manual")
        policy = RolloutPolicy(canary=1, soak_s=2, health_timeout_s=120)
        turn = runner(line, policy) if runner is not None else turn
        on_epoch = _epoch_printer()
        common = dict(profile="quick", gate=gate, policy=policy, on_epoch=on_epoch)
        plan = TurnPlan.resolve(1, "unlabeled", overrides=[f"epochs={epochs}"], camera=cameras[0], seed=seed, **common)
        step(8, f"turn 1: label what waits, train {_epochs(epochs)} from {plan.config.model}, gate, approve, deploy, "
             "inspect — each step started by its trigger")  # fmt: skip
        shown[0] = 0
        reports.append(turn(world, plan))
        print_turn(reports[-1])
        one = reports[-1]
        if one.deployed is None or one.collected is None or not one.collected.feedback_waiting:
            console.print("  no model on the line, or no feedback from it: the loop stops after turn 1", soft_wrap=True)
            return reports
        # Fine-tuning a trained model: a quarter of the first run's learning rate (AdamW 0.002 on this data),
        # no warm-up and no mosaic, so the new labels refine turn 1's model instead of shaking it up.
        fine_tune = [f"epochs={retrain_epochs}", "optimizer=AdamW", "lr0=0.0005", "warmup_epochs=0",
                     f"augment.close_mosaic={retrain_epochs}"]  # fmt: skip
        step(9, f"turn 2: the feedback trigger opens a job, the label-count trigger fine-tunes turn 1's model "
             f"{_epochs(retrain_epochs)} on the new labels")  # fmt: skip
        shown[0] = 0
        plan = TurnPlan.resolve(2, "feedback", overrides=fine_tune, camera=cameras[1], start_from=one.candidate.weights,
                                seed=seed + 1, **common)  # fmt: skip
        reports.append(turn(world, plan))
        print_turn(reports[-1])
    finally:
        if hasattr(turn, "close"):  # the orchestrated turns hold a Dagster instance
            turn.close()
        line.stop()
        db.dispose()
    return reports


def _epochs(n: int) -> str:
    return f"{n} epoch" + ("" if n == 1 else "s")


def _epoch_printer():
    def on_epoch(row: dict) -> None:
        console.print(
            f"    epoch {int(row.get('epoch', 0))}: validation mAP50 {row.get('mAP50', float('nan')):.3f}",
            highlight=False,
        )

    return on_epoch


def _revise(record, **changes):
    """A new record for the same image: what a verifier's correction appends."""
    fields = record.model_dump(exclude={"record_id", "write_time"}) | changes
    return type(record)(**fields)
