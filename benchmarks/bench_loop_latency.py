"""How fast the loop turns by itself: seconds from an event to the step it triggers.

1. A new image in the camera folder → its labelling job (the ``camera_folder`` sensor
   starts an ingest run, which opens the job itself once enough images wait; the
   breakdown shows when the run was requested, started and ended). Goal: within two
   sensor intervals, ≤ 60 s with the defaults.
2. The N-th approved label → the start of training (the ``labels_approved`` sensor):
   the time the run was requested and the time its worker started. Goal ≤ 60 s.
   N approved labels are appended at once to the label store, as a verifier's last
   approval publishes them.
3. Approval of a model version → SUCCEEDED on two simulated devices (a canary, then the
   rest): the approval, the rollout and its outcome, with a controller and two real
   device agents (``qiloop.sim.devices``). This is the deployment itself; the
   ``model_approved`` sensor adds up to its interval before it. Goal ≤ 20 s. The canary's soak
   is 2 s as in the demo (``--soak``); the orchestration's default of 30 s alone exceeds the goal.

1 and 2 run against the real stack: ``qiloop up`` as a process on free ports
(:class:`qiloop.stack.background.BackgroundStack`, as the ``qiloop up`` test starts it;
Dagster's daemon runs the sensors, each run in its own process), on a fresh home. 3 runs in this
process. The machine's load is printed with the figures (other work on the machine
slows every step).

Run: ``python benchmarks/bench_loop_latency.py [--images 6] [--skip-deploy]``.
Results also go to ``benchmarks/out/``. Benchmarks print numbers; they are not tests.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
console = Console(width=140)
RUNS_QUERY = """{ runsOrError(filter: {tags: [{key: "qiloop/trigger", value: "%s"}]}) {
  __typename ... on Runs { results { runId status creationTime startTime endTime } } } }"""


def dagster_runs(url: str, trigger: str) -> list[dict]:
    body = json.dumps({"query": RUNS_QUERY % trigger}).encode()
    request = urllib.request.Request(f"{url}/graphql", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        answer = json.load(response)["data"]["runsOrError"]
    if answer["__typename"] != "Runs":
        raise RuntimeError(f"Dagster answered {answer}")
    return answer["results"]


def wait(predicate, timeout: float, what: str, stack, poll: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.check_alive(what)
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise TimeoutError(f"no {what} within {timeout:g} s")


def approve_labels(settings, shas: set[str]) -> float:
    """Append APPROVED labels for ``shas`` in one commit; the wall time when it was committed."""
    from qiloop.core.records import Box, LabelRecord, LabelStatus
    from qiloop.labelstore import LabelStore
    from qiloop.storage import ImageStore

    images = ImageStore.from_settings(settings)
    now = datetime.now(timezone.utc)
    records = []
    for sha in sorted(shas):
        image = images.get(sha)
        records.append(LabelRecord(
            image_uri=image.uri, image_sha256=sha, image_width=image.width, image_height=image.height,
            image_depth=image.depth, event_time=now, status=LabelStatus.APPROVED, verifier="bench",
            annotations=(Box(class_id=0, left=4, top=4, width=20, height=10),),
        ))  # fmt: skip
    LabelStore.from_settings(settings).append(records)
    return time.time()


def stack_figures(images: int, root: Path) -> dict:
    from camera_helpers import camera_images, queued
    from qiloop.settings import Settings
    from qiloop.stack.background import BackgroundStack

    home = (root / "home").resolve()
    settings = Settings(home=home)
    out: dict = {}
    env = {"QILOOP_LABEL_JOB_MIN_IMAGES": str(images), "QILOOP_RETRAIN_AFTER_LABELS": str(images), "YOLO_OFFLINE": "1"}
    with BackgroundStack.start(home, env=env, log=root / "up.log", timeout=600) as stack:
        out["stack_ready_s"] = stack.ready_s
        dagster = stack.url("dagster-webserver")
        console.print(f"stack ready in {out['stack_ready_s']:.1f} s; Dagster at {dagster}")

        t0, wall0 = time.monotonic(), time.time()
        shas = camera_images(settings.camera_folder, images, seed=23)
        wait(lambda: shas <= queued(settings), 600, "labelling job for the camera images", stack, poll=0.25)
        out["camera_to_job_s"] = time.monotonic() - t0
        console.print(f"camera folder -> labelling job: {out['camera_to_job_s']:.1f} s")
        for trigger in ("camera_folder", "labels_wanted"):  # where the time went: sensor wait, launch, run
            found = dagster_runs(dagster, trigger)
            if not found:
                continue
            run = found[-1]
            steps = {k: run[k] - wall0 for k in ("creationTime", "startTime", "endTime") if run.get(k)}
            out[f"{trigger}_run"] = steps
            console.print(f"  {trigger} run: " + ", ".join(f"{k} +{v:.1f} s" for k, v in steps.items()))

        approved_at = approve_labels(settings, shas)
        runs = wait(lambda: dagster_runs(dagster, "labels_approved"), 600, "training run request", stack)
        out["label_to_training_request_s"] = runs[0]["creationTime"] - approved_at
        start = wait(lambda: [r for r in dagster_runs(dagster, "labels_approved") if r["startTime"]], 600,
                     "training run start", stack)  # fmt: skip
        out["label_to_training_start_s"] = start[0]["startTime"] - approved_at
        console.print(
            f"N-th approved label -> training requested {out['label_to_training_request_s']:.1f} s, "
            f"started {out['label_to_training_start_s']:.1f} s"
        )
    return out


def deploy_figure(root: Path, soak_s: float) -> dict:
    """Register a tiny model, then time approve → canary rollout → SUCCEEDED on two simulated devices."""
    import shutil

    from qiloop.core.deployments import RolloutPolicy
    from qiloop.loop.approve import approve_version
    from qiloop.loop.deploy import deploy_and_wait
    from qiloop.registry import ModelRegistry
    from qiloop.settings import Settings
    from qiloop.sim.devices import SimulatedLine
    from tiny_models import tiny_package

    settings = Settings(home=root / "deploy-home")
    package = tiny_package(root / "package")
    registry = ModelRegistry.from_settings(settings)
    with registry.start_candidate_run("scratch-detector", {"epochs": 0}) as run:
        version = registry.register(run, package, name="scratch-detector")
    shutil.rmtree(root / "package")
    with SimulatedLine.start(settings, root / "line", group="bench-line") as line:
        started = time.monotonic()
        approve_version(registry, version.ref, reason="latency benchmark", actor="bench")
        outcome = deploy_and_wait(line.controller, registry, "bench-line", version.ref,
                                  policy=RolloutPolicy(canary=1, soak_s=soak_s), timeout=300)  # fmt: skip
        seconds = time.monotonic() - started
    if not outcome.succeeded:
        raise RuntimeError(f"the rollout did not succeed: {outcome}")
    console.print(f"approval -> SUCCEEDED on {outcome.devices_succeeded} devices: {seconds:.1f} s")
    return {"approval_to_succeeded_s": seconds, "devices": outcome.devices_succeeded, "soak_s": soak_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--images", type=int, default=6, help="Camera images, also the job and training thresholds.")
    parser.add_argument("--skip-stack", action="store_true", help="Skip figures 1 and 2 (qiloop up).")
    parser.add_argument("--skip-deploy", action="store_true", help="Skip figure 3 (the rollout).")
    parser.add_argument("--soak", type=float, default=2.0, help="Seconds the canary must stay healthy (as the demo).")
    args = parser.parse_args()
    figures: dict = {"load_before": os.getloadavg(), "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="bench-loop-") as tmp:
        if not args.skip_stack:
            figures.update(stack_figures(args.images, Path(tmp)))
        if not args.skip_deploy:
            figures.update(deploy_figure(Path(tmp), args.soak))
    figures["load_after"] = os.getloadavg()
    table = Table("from → to", "seconds", "goal", title=f"loop latency ({args.images} images, N = {args.images})")
    for key, label, goal in (
        ("stack_ready_s", "qiloop up → every part ready", "-"),
        ("camera_to_job_s", "new camera image → its labelling job", "≤ 60"),
        ("label_to_training_request_s", "N-th approved label → training run requested", "-"),
        ("label_to_training_start_s", "N-th approved label → training run started", "≤ 60"),
        ("approval_to_succeeded_s", f"approval → SUCCEEDED on two devices (canary 1, soak {args.soak:g} s)", "≤ 20"),
    ):
        if key in figures:
            table.add_row(label, f"{figures[key]:.1f}", goal)
    console.print(table)
    console.print(f"load average before {figures['load_before']}, after {figures['load_after']}, "
                  f"{figures['cpus']} CPUs")  # fmt: skip
    out = ROOT / "benchmarks" / "out"
    out.mkdir(exist_ok=True)
    (out / "loop_latency.json").write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
