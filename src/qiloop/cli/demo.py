"""``qiloop demo``: one pass of the loop on embedded defaults, explained as it runs.

Synthetic photos → image store → label import → a verifier's later corrections →
point-in-time reads → a labelling job done by bots over the labelling service →
training, export, evaluation and the gate → the model registry → a device
inspecting images with results over MQTT → a signed fleet deployment to two
simulated devices. Each step calls the same library functions the CLI commands do.
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
from qiloop.cli.demo_edge import inspect_on_device
from qiloop.cli.demo_fleet import deploy_to_fleet
from qiloop.cli.demo_label import label_step


def demo(
    home: HomeOption = None,
    n: Annotated[int, typer.Option("--n", help="Synthetic images to generate.")] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the synthetic data.")] = 0,
    fresh: Annotated[bool, typer.Option("--fresh", help="Delete the home folder first.")] = False,
    epochs: Annotated[int, typer.Option("--epochs", help="Training epochs (quick profile); 0 skips training.")] = 10,
    device_images: Annotated[int, typer.Option("--device-images", help="Camera images the demo device inspects.")] = 24,
) -> None:
    """Run the whole loop on embedded defaults: data, labels, training, registry, and a device inspecting images."""
    from qiloop.core.records import LabelSource, LabelStatus
    from qiloop.labelstore import LabelStore
    from qiloop.labelstore.formats import labels_csv
    from qiloop.labelstore.importer import import_parsed
    from qiloop.storage import ImageStore
    from qiloop.synth import generate_dataset

    settings = settings_for(home)
    if fresh and settings.home.exists():
        shutil.rmtree(settings.home)
    settings.home.mkdir(parents=True, exist_ok=True)
    data_dir = settings.home / "demo-data"
    started = time.perf_counter()

    _step(1, f"synthesise {n} metal-tag images (seed {seed})")
    unlabeled = max(1, n // 25)
    report = generate_dataset(data_dir, n, seed=seed, unlabeled=unlabeled, progress=True)
    console.print(f"  {report.images} images, {report.boxes} scratch boxes, {unlabeled} left unlabelled → {data_dir}")

    _step(2, "ingest them into the content-addressed image store")
    images = ImageStore.from_settings(settings)
    ingest = images.ingest([data_dir / "images"], source="camera:demo", progress=True)
    again = images.ingest([data_dir / "images"], source="camera:demo")
    console.print(
        f"  {len(ingest.added)} added, {len(ingest.rejected)} rejected; "
        f"ingesting again adds {len(again.added)} ({len(again.duplicates)} duplicates by sha256)"
    )

    _step(3, "import the labels (reference labels.csv format)")
    labels = LabelStore.from_settings(settings)
    parsed = labels_csv.read(data_dir / "labels.csv")
    result = import_parsed(parsed, images, labels, images_root=data_dir)
    replay = import_parsed(parsed, images, labels, images_root=data_dir)
    console.print(
        f"  {result.written} records written at version {result.version}; "
        f"re-import writes {replay.written} ({replay.already_present} already present)"
    )
    imported_version = result.version

    _step(4, "a verifier corrects two labels later (append-only: nothing is overwritten)")
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

    _step(5, "point-in-time reads")
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

    _step(6, "the label store and the next labelling job's input")
    stats = labels.stats()
    for key, value in stats.items():
        console.print(f"  {key}: {value}")
    todo = images.unlabeled(labels.labeled_sha256s())
    console.print(f"  images without an approved label (next labelling job): {len(todo)}")
    label_step(settings, images, labels, seed=seed, step=lambda text: _step(7, text))
    if epochs > 0:
        _train(settings, images, labels, epochs)
        inspect_on_device(settings, data_dir / "images", count=device_images, step=lambda text: _step(10, text))
        deploy_to_fleet(settings, data_dir / "images", step=lambda text: _step(11, text))
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


def _train(settings, images, labels, epochs: int) -> None:
    """Steps 8-9: the training pipeline on the quick profile, then the registry."""
    from rich.progress import Progress

    from qiloop.registry import ModelRegistry
    from qiloop.training.config import TrainConfig
    from qiloop.training.gate import GateConfig
    from qiloop.training.pipeline import run_training

    config = TrainConfig.resolve(profile="quick", overrides=[f"epochs={epochs}"])
    _step(8, f"train, export, evaluate and gate a model ({epochs} epochs from {config.model}, quick profile, CPU)")
    # The default bar (mAP50, precision and recall at the operating point); the demo approves what passes it.
    gate = GateConfig(approval="auto")
    registry = ModelRegistry.from_settings(settings)
    with Progress(console=console, transient=True) as bar:
        epoch_task = bar.add_task("training", total=config.epochs)
        result = run_training(
            config,
            gate,
            labels=labels,
            images=images,
            registry=registry,
            workdir=settings.home / "runs" / "demo",
            on_step=lambda name: console.print(f"  · {name}"),
            on_epoch=lambda row: bar.update(
                epoch_task, completed=int(row.get("epoch", 0)), description=f"training mAP50 {row.get('mAP50', 0):.3f}"
            ),
        )
    e, i8 = result.evaluation.summary(), (result.int8_evaluation.summary() if result.int8_evaluation else {})
    console.print(
        f"  test split: mAP50 {e['mAP50']:.3f}, mAP50-95 {e['mAP50-95']:.3f}, precision {e['precision']:.3f}, "
        f"recall {e['recall']:.3f}" + (f"; INT8 mAP50 {i8['mAP50']:.3f}" if i8 else "")
    )
    console.print(
        f"  package: {result.export.folder} ({result.export.fp32_bytes / 1e6:.1f} MB FP32, "
        f"{(result.export.int8_bytes or 0) / 1e6:.1f} MB INT8), parity: {result.export.parity.summary()}"
    )
    point = result.export.folder / "manifest.json"
    console.print(f"  operating point (chosen on the validation split, in {point}):", highlight=False)
    for name, p in _operating_point(point).items():
        console.print(
            f"    {name}: confidence {p['confidence']:.3f} → precision {p['precision']:.3f}, recall {p['recall']:.3f}"
        )
    console.print(f"  gate: {'passed' if result.decision.passed else 'REFUSED'}")
    for check in result.decision.checks:
        console.print(f"    {'ok  ' if check.passed else 'FAIL'} {check.detail}", highlight=False)
    if not result.decision.passed:
        console.print("  the candidate is kept as an MLflow run, not registered: nothing will be deployed")

    _step(9, "the model registry")
    versions = (
        registry.versions(config.name) if result.version is not None or _registered(registry, config.name) else []
    )
    if not versions:
        console.print("  no version registered yet: train longer (qiloop train) or lower the gate's bar")
        return
    table = Table("version", "approval", "mAP50", "dataset", "label-store version", "aliases")
    for v in versions:
        table.add_row(
            str(v.version),
            str(getattr(v.approval, "value", v.approval)),
            f"{v.metrics.get('mAP50', float('nan')):.3f}",
            v.dataset_snapshot or "",
            str(v.label_store_version),
            ", ".join(v.aliases),
        )
    console.print(table)


def _operating_point(manifest_path) -> dict:
    import json

    return json.loads(manifest_path.read_text()).get("operating_point", {}).get("classes", {})


def _registered(registry, name: str) -> bool:
    return name in registry.names()


def _step(number: int, text: str) -> None:
    console.rule(Text(f"{number}. {text}", style="bold"), align="left")


def _revise(record, **changes):
    """A new record for the same image: what a verifier's correction appends."""
    fields = record.model_dump(exclude={"record_id", "write_time"}) | changes
    return type(record)(**fields)
