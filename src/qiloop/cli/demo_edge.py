"""The demo's device step: the approved model inspects camera images on a simulated device.

A real device process (``qiloop edge run``) watches a camera folder, publishes every
result over MQTT through its durable outbox and sends uncertain images back; the
cloud-side collector prints the results as they arrive, stores each once, and puts
the feedback images into the image store for the next labelling job.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from rich.table import Table
from rich.text import Text

from qiloop.cli.common import console

DEVICE_ID = "demo-device"
# A short demo training leaves the model unsure of most images: widen what goes back for labelling.
FEEDBACK = ["feedback.uncertain_low=0.05", "feedback.no_detection=true", "feedback.sample_rate=0.2"]


def inspect_on_device(settings, images_dir: Path, *, count: int = 24, step) -> None:
    """Run the device on ``count`` images of ``images_dir`` against the production model."""
    from qiloop.broker import broker_url
    from qiloop.cli.fleet_results import _line
    from qiloop.fleet.collector import Collector
    from qiloop.fleet.results_db import ResultsDB
    from qiloop.registry import ModelRegistry
    from qiloop.storage import ImageStore

    registry = ModelRegistry.from_settings(settings)
    production = registry.production()
    if production is None:
        console.print("  no approved model yet: nothing to deploy to the device")
        return
    step(f"inspect {count} camera images on a device with {production.ref} (results over MQTT)")
    device_home = settings.home / "devices" / DEVICE_ID
    shutil.rmtree(device_home, ignore_errors=True)
    package = registry.download(production.ref, device_home / "package")
    camera = device_home / "camera"
    camera.mkdir(parents=True)
    files = sorted(p for p in images_dir.rglob("*") if p.is_file())
    chosen = files[:: max(1, len(files) // max(count, 1))][:count]  # spread over good and bad tags
    for path in chosen:
        shutil.copy2(path, camera / path.name)
    count = len(chosen)

    url, embedded = broker_url(settings)
    where = "an embedded broker" if embedded else "the configured broker"
    console.print(f"  broker: {url} ({where}); device home: {device_home}", highlight=False)
    try:
        collector = Collector.connect(url, settings, client_id="qiloop-demo-collector")
        collector.on_result(lambda r: console.print("  " + _line(r), highlight=False, soft_wrap=True))
        with collector:
            device = subprocess.run(
                [sys.executable, "-m", "qiloop.cli.main", "edge", "run", "--package", str(package),
                 "--device-id", DEVICE_ID, "--watch", str(camera), "--broker", url,
                 "--max-images", str(count), "--duration", "300", "--home", str(settings.home), "--json", *FEEDBACK],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            collector.wait_idle(timeout=15)
            stats = collector.stats()
    finally:
        if embedded is not None:
            embedded.stop()
    if device.returncode != 0:
        console.print(
            Text.assemble(
                "  ", (f"the device exited with {device.returncode}", "red"), f": {device.stderr.strip()[-400:]}"
            )
        )
        return
    feedback = ImageStore.from_settings(settings).feedback.list(DEVICE_ID)
    with ResultsDB.from_settings(settings) as db:
        stored = db.results(device=DEVICE_ID, limit=0)
    fails = sum(1 for r in stored if r.message.verdict == "fail")
    table = Table("results stored", "failed inspection", "feedback images in the image store", "duplicates dropped")
    table.add_row(str(len(stored)), str(fails), str(len(feedback)), str(stats.total("duplicate")))
    console.print(table)
    reasons: dict[str, int] = {}
    for entry in feedback:
        reasons[entry.reason] = reasons.get(entry.reason, 0) + 1
    if reasons:
        console.print("  feedback reasons: " + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())))
