"""``qiloop demo``: two turns of the loop on embedded defaults, explained as they run.

Synthetic photos → image store → label import, a verifier's corrections and
point-in-time reads (a tour of the label store) → turn 1: a labelling job done by
bots, training, the gate, approval, a canary rollout to two simulated devices that
inspect new camera images and send uncertain ones back → turn 2: a labelling job
for that feedback, pre-labelled by the production model, a new model trained from
the new label-store version, the gate against production on the same test images,
and a rollout only when it is better → both turns side by side. Each step is a
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

from qiloop.cli.common import HomeOption, console, settings_for
from qiloop.cli.demo_report import print_side_by_side, print_turn, step


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
) -> None:
    """Run two turns of the loop on embedded defaults: label, train, gate, approve, deploy, inspect, retrain.

    With a short training (--epochs 1) the gate refuses the model with its figures and nothing is deployed.
    """
    settings = settings_for(home)
    if fresh and settings.home.exists():
        shutil.rmtree(settings.home)
    settings.home.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    images, labels, cameras = _tour(settings, n, seed, camera)
    reports = _turns(settings, images, labels, cameras, seed=seed, epochs=epochs, retrain_epochs=retrain_epochs)
    print_side_by_side(reports)
    console.print(
        Panel(
            f"done in {time.perf_counter() - started:.1f} s — home: {settings.home}\n"
            f"try: qiloop labels stats --home {settings.home}\n"
            f"     qiloop models ls --home {settings.home}\n"
            f"     qiloop labeling serve --home {settings.home}\n"
            f"     mlflow ui --backend-store-uri {settings.mlflow_tracking_uri}",
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
    """Steps 7-8: the simulated line joins, then two turns of the loop (the second only after a deployment)."""
    from qiloop.cli.common import result_line
    from qiloop.core.deployments import RolloutPolicy
    from qiloop.labeling.db import Database
    from qiloop.registry import ModelRegistry
    from qiloop.sim.devices import DEVICES, GROUP, SimulatedLine
    from qiloop.sim.turn import TurnPlan, World, run_turn
    from qiloop.training.config import TrainConfig
    from qiloop.training.gate import GateConfig

    runner = runner or run_turn
    step(7, f"two simulated devices ({', '.join(DEVICES)}) join the line {GROUP}")
    shown: list[int] = [0]

    def on_result(result) -> None:  # the first few results as they arrive; the rest are counted
        shown[0] += 1
        if shown[0] <= 4:
            console.print("  " + result_line(result), highlight=False, soft_wrap=True)

    db = Database.from_settings(settings)
    line = SimulatedLine.start(settings, on_result=on_result)
    reports = []
    try:
        console.print(f"  broker {line.broker_url}, file server {line.service.files_url}", highlight=False)
        world = World(settings, images, labels, ModelRegistry.from_settings(settings), db, line,
                      say=lambda text: console.print(f"  {text}", highlight=False, soft_wrap=True))  # fmt: skip
        # The default bar; a passing candidate is registered pending approval and the loop's promotion rule
        # approves it (better than production on the same test images, or the first that passes).
        gate = GateConfig(approval="manual")
        policy = RolloutPolicy(canary=1, soak_s=2, health_timeout_s=120)
        on_epoch = _epoch_printer()
        first = TrainConfig.resolve(profile="quick", overrides=[f"epochs={epochs}"])
        step(8, f"turn 1: label what waits, train {_epochs(epochs)} from {first.model}, gate, approve, deploy, inspect")
        shown[0] = 0
        reports.append(runner(world, TurnPlan(1, "unlabeled", first, gate, cameras[0], seed=seed, policy=policy,
                                              on_epoch=on_epoch)))  # fmt: skip
        print_turn(reports[-1])
        one = reports[-1]
        if one.deployed is None or one.collected is None or not one.collected.feedback_waiting:
            console.print("  no model on the line, or no feedback from it: the loop stops after turn 1", soft_wrap=True)
            return reports
        # Fine-tuning a trained model: a quarter of the first run's learning rate (AdamW 0.002 on this data),
        # no warm-up and no mosaic, so the new labels refine turn 1's model instead of shaking it up.
        fine_tune = [f"epochs={retrain_epochs}", "optimizer=AdamW", "lr0=0.0005", "warmup_epochs=0",
                     f"augment.close_mosaic={retrain_epochs}"]  # fmt: skip
        second = TrainConfig.resolve(profile="quick", overrides=fine_tune)
        step(9, f"turn 2: label the feedback, fine-tune turn 1's model {_epochs(retrain_epochs)} on the new labels")
        shown[0] = 0
        plan = TurnPlan(2, "feedback", second, gate, cameras[1], start_from=one.candidate.weights, seed=seed + 1,
                        policy=policy, on_epoch=on_epoch)  # fmt: skip
        reports.append(runner(world, plan))
        print_turn(reports[-1])
    finally:
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
