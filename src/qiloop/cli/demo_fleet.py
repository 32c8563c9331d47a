"""The demo's fleet step: two simulated devices get the approved model and the inference code, then a new model alone.

Two real nucleus processes (``qiloop agent run``, each with its own home, trusting the
home's deployment key, in group ``demo-line``) and the fleet controller (file server,
rollouts, results collector) on the demo's broker. The approved model and the real
inference code roll out canary first; each device then runs ``qiloop edge run`` from
the code component and its results arrive over MQTT. A new model version follows, and
the file server's counters show that only the model component crossed the network.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.table import Table

from qiloop.cli.common import console

GROUP = "demo-line"
DEVICES = ("line-1", "line-2")


def deploy_to_fleet(settings, images_dir: Path, *, step, per_device: int = 3) -> None:
    """Roll the production model out to two simulated devices, inspect images there, then roll a new version."""
    from qiloop.broker import broker_url
    from qiloop.cli.fleet_results import _line
    from qiloop.core.deployments import RolloutPolicy
    from qiloop.fleet.service import ControllerService
    from qiloop.registry import ModelRegistry

    registry = ModelRegistry.from_settings(settings)
    production = registry.production()
    if production is None:
        console.print("  no approved model yet: nothing to roll out")
        return
    step(f"roll {production.ref} and the inference code out to two devices, then a new model version alone")
    root = settings.home / "fleet-demo"
    shutil.rmtree(root, ignore_errors=True)
    url, embedded = broker_url(settings)
    service = ControllerService.create(settings, url, port=0, client_id="qiloop-demo-fleet")
    service.interval = 0.1
    devices: list[subprocess.Popen] = []
    policy = RolloutPolicy(canary=1, soak_s=2, health_timeout_s=120)
    try:
        service.start()
        service.collector.on_result(lambda r: console.print("  " + _line(r), highlight=False, soft_wrap=True))
        since = time.time()
        devices = [_start_device(settings, root, d, url, service.files_url) for d in DEVICES]
        _wait(lambda: _greeted(service, since), 30, "the devices' hellos", root)
        console.print(f"  broker {url}, file server {service.files_url}, devices {', '.join(DEVICES)} in {GROUP}",
                      highlight=False)  # fmt: skip
        first = _roll(service, registry, production.ref, policy)
        if first is None:
            return
        _inspect(service, images_dir, root, 0, per_device)
        newer = _new_version(registry, production)
        service.server.reset_counts()
        second = _roll(service, registry, newer.ref, policy)
        if second is None:
            return
        _transfer(service, second)
        _inspect(service, images_dir, root, per_device, 1)
    finally:
        for proc in devices:
            proc.send_signal(signal.SIGTERM)
        for proc in devices:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        service.stop()
        if embedded is not None:
            embedded.stop()
        else:
            _clear_retained(url)


def _start_device(settings, root: Path, device_id: str, url: str, files_url: str) -> subprocess.Popen:
    home = root / device_id
    home.mkdir(parents=True)
    env = {**os.environ, "QILOOP_HOME": str(home / "app")}  # where the device's inference app keeps its outbox
    argv = [sys.executable, "-m", "qiloop.cli.main", "agent", "run", "--home", str(home), "--device-id", device_id,
            "--group", GROUP, "--broker", url, "--controller", files_url,
            "--trust-key", str(settings.home / "keys" / "deploy-signing.pub"), "--health-window", "2"]  # fmt: skip
    log = (root / f"{device_id}.log").open("ab")
    return subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)


def _greeted(service, since: float) -> bool:
    fresh = {d.device_id for d in service.controller.db.devices(GROUP) if (d.hello_at or 0) >= since}
    return fresh >= set(DEVICES)


def _roll(service, registry, ref: str, policy):
    from qiloop.fleet.model_deploy import deploy_model

    started = time.perf_counter()
    rollout = deploy_model(service.controller, registry, GROUP, ref, policy=policy)
    what = " + ".join(f"{c.name} {c.version}" for c in rollout.components)
    console.print(f"  rollout of {what}: canary first, soak {policy.soak_s:g} s, then the group", highlight=False)
    done = service.wait_rollout(rollout.id, 180)
    canaries = ", ".join(done.canaries) or "-"
    outcome = ", ".join(f"{d} {s}" for d, s in sorted(done.outcome.items()))
    seconds = time.perf_counter() - started
    console.print(
        f"  → {done.phase.value} in {seconds:.1f} s (canary {canaries}; {outcome}) {done.reason}", highlight=False
    )
    return done if done.phase.value == "SUCCEEDED" else None


def _inspect(service, images_dir: Path, root: Path, start: int, count: int) -> None:
    """Drop ``count`` camera images on each device and wait for their results."""
    files = sorted(p for p in images_dir.rglob("*") if p.is_file())
    before = service.collector.stats().of("result")["stored"]
    for i, device in enumerate(DEVICES):
        for path in files[start + i * 7 :: 13][:count]:
            shutil.copy2(path, root / device / "camera" / path.name)
    expected = before + count * len(DEVICES)
    _wait(lambda: service.collector.stats().of("result")["stored"] >= expected, 60, "the devices' results", root)


def _new_version(registry, production):
    """Register the production network re-packaged (new file bytes, same weights) as the next approved version.

    Stands in for a retrained model; a fresh training run would take minutes.
    """
    import onnx

    from qiloop.core.package import MANIFEST, file_entry, read_manifest

    with tempfile.TemporaryDirectory(prefix="qiloop-demo-") as tmp:
        folder = registry.download(production.ref, Path(tmp) / "package")
        manifest = read_manifest(folder)
        for name in manifest.files:
            model = onnx.load(str(folder / name))
            onnx.helper.set_model_props(model, {"qiloop_revision": f"{production.version + 1}"})
            onnx.save(model, str(folder / name))
        files = {name: file_entry(folder / name) for name in manifest.files}
        (folder / MANIFEST).write_text(manifest.model_copy(update={"files": files}).model_dump_json(indent=2))
        with registry.start_candidate_run(production.name, {"repackaged_from": production.ref}) as run:
            version = registry.register(run, folder, name=production.name, approval="Approved",
                                        reason="demo: the production network re-packaged as a new version")  # fmt: skip
    console.print(f"  registered {version.ref} (approved, now production)", highlight=False)
    return version


def _transfer(service, rollout) -> None:
    store, served = service.controller.store, service.server.served
    components = [store.get(c.name, c.version) for c in rollout.components]
    sent = sum(n for path, n in served.items() if path.startswith("/v1/files/"))
    table = Table("component", "version", "size", "bytes sent to 2 devices", "per device")
    for component in components:
        mine = sum(n for path, n in served.items() if any(path.endswith(f.sha256) for f in component.files))
        table.add_row(component.name, component.version, f"{component.size:,}", f"{mine:,}",
                      f"{mine / len(DEVICES) / component.size:.3f}× its size")  # fmt: skip
    console.print(table)
    model = next(c for c in components if c.kind.value == "model")
    ratio = sent / len(DEVICES) / model.size
    console.print(
        f"  only the model crossed the network: {sent:,} file bytes in all, {ratio:.3f}× the model per device",
        highlight=False,
    )


def _clear_retained(url: str) -> None:
    from qiloop.core.deployments import Target
    from qiloop.edge.agent.protocol import deployment_topic, hello_topic
    from qiloop.fleet.publish import publish_retained

    targets = [Target(kind="group", name=GROUP), *(Target(kind="device", name=d) for d in DEVICES)]
    for topic in [*(deployment_topic(t) for t in targets), *(hello_topic(d) for d in DEVICES)]:
        publish_retained(url, topic, b"")


def _wait(predicate, timeout: float, what: str, root: Path | None = None) -> None:
    from qiloop.core.errors import QiloopError

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            hint = f"see the device logs in {root}" if root else "check the broker"
            raise QiloopError(f"the demo waited {timeout:g} s for {what}", hint=hint)
        time.sleep(0.1)
