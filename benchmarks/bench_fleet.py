"""Fleet rollouts on this machine: time to SUCCEEDED on N simulated devices, time to roll back, bytes moved.

N real nucleus processes (``qiloop agent run``, each with its own home) in one group, a
private Mosquitto, and the fleet controller service (file server, rollouts) in this
process. The code component is the tests' heartbeat app (a zip with a few hundred kB of
library, like a real code component); the models are real tiny YOLOv8n packages
(FP32 + INT8). Measured:

1. first install (model + code) to the group, no canary: creation → every device SUCCEEDED;
2. a model-only update as a canary rollout (1 canary, soak 0 s): creation → SUCCEEDED;
3. a code-only update, no canary;
4. a code that crashes on start, 1 canary: creation → ABORTED, and → the canary's
   roll-back deployment SUCCEEDED;
and for each update the file bytes the server sent per device against the changed
component's size (goal ≤ 1.05×). Devices pass their health check after a 1 s window.

Run: ``python benchmarks/bench_fleet.py [--devices 10]``. Results also go to ``benchmarks/out/``.
Benchmarks print numbers; they are not tests.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
console = Console(width=140)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--devices", type=int, default=10)
    args = parser.parse_args()
    os.environ.setdefault("YOLO_OFFLINE", "1")

    from fleet_helpers import CloudFleet
    from mqtt_helpers import PrivateBroker
    from nucleus_helpers import Device, code_zip, model_packages
    from qiloop.core.components import Lifecycle
    from qiloop.core.deployments import RolloutPolicy

    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
        root = Path(tmp)
        broker = PrivateBroker(root / "broker")
        broker.start()
        packages = model_packages(root / "models")
        cloud = CloudFleet(root / "cloud", broker.port)
        group = f"bench-{uuid.uuid4().hex[:6]}"
        ids = [f"{group}-{i:02d}" for i in range(args.devices)]
        cloud.devices = ids
        library = {"lib.bin": os.urandom(300_000)}

        def code(version: str, mode: str = "ok"):
            command = ["{python}", "{component}/app.py", "{data_dir}", "{model_path}", version, mode]
            lc = Lifecycle(command=command, unpack=["app.zip"], max_restarts=2, restart_window_s=10)
            return cloud.store.publish("code", version, "inference", {"app.zip": code_zip(version, extra=library)},
                                       lifecycle=lc, dependencies={"model": ">=1"})  # fmt: skip

        devices = [Device(cloud, root / d, d, groups=(group,)).start() for d in ids]
        rows, figures = [], {"devices": args.devices, "cpus": os.cpu_count()}
        try:
            cloud.wait_members(group, args.devices, timeout=60)
            model1, model2 = cloud.model(packages["1"]), cloud.model(packages["2"])
            code1, code2, crash = code("1"), code("2"), code("3", "crash")

            def roll(name, components, policy, changed):
                cloud.server.reset_counts()
                started = time.perf_counter()
                rollout = cloud.controller.deploy(components, group, policy=policy)
                done = cloud.service.wait_rollout(rollout.id, timeout=300)
                seconds = time.perf_counter() - started
                sent = sum(n for p, n in cloud.server.served.items() if p.startswith("/v1/files/"))
                size = sum(c.size for c in changed)
                ratio = sent / args.devices / size if size else 0.0
                rows.append((name, done.phase.value, f"{seconds:.2f}", f"{size:,}", f"{sent / args.devices:,.0f}",
                             f"{ratio:.3f}"))  # fmt: skip
                figures[name] = {"phase": done.phase.value, "seconds": round(seconds, 2), "changed_bytes": size,
                                 "bytes_per_device": sent / args.devices, "ratio": round(ratio, 4)}  # fmt: skip
                return done, started

            no_canary = RolloutPolicy(canary=0, soak_s=0, health_timeout_s=120)
            canary = RolloutPolicy(canary=1, soak_s=0, health_timeout_s=120)
            roll("full install (model + code)", [model1, code1], no_canary, [model1, code1])
            roll("model-only update, 1 canary", [model2, code1], canary, [model2])
            roll("code-only update", [code2], no_canary, [code2])
            aborted, started = roll("crashing code, 1 canary → ABORTED", [crash], canary, [crash])
            (canary_id,) = aborted.canaries
            (rollback_id,) = aborted.rollback
            devices[ids.index(canary_id)].wait_final(rollback_id, timeout=120)
            back = time.perf_counter() - started
            rows.append(("… → canary's roll-back SUCCEEDED", "", f"{back:.2f}", "", "", ""))
            figures["rollback_seconds"] = round(back, 2)
        finally:
            for device in devices:
                device.stop()
                device.kill()
            cloud.close()
            broker.kill()

    table = Table("rollout", "end", "seconds", "changed component bytes", "file bytes per device", "ratio",
                  title=f"fleet rollouts, {args.devices} devices, {os.cpu_count()} CPUs")  # fmt: skip
    for row in rows:
        table.add_row(*row)
    console.print(table)
    out = ROOT / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"bench_fleet-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(figures, indent=2))
    console.print(f"written {path}")


if __name__ == "__main__":
    main()
