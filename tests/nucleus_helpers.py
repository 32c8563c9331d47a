"""A real fleet for nucleus tests: component store, HTTP file server, signer, broker, nucleus processes.

The code component is a tiny real program (``app.py`` in a zip) that writes a heartbeat
with the model version it was started with, so a test can tell exactly which code and
model a device is serving, and whether it is alive.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from qiloop.core.components import Component, Lifecycle
from qiloop.core.deployments import ComponentRef, Deployment, RolloutPolicy, Target
from qiloop.edge.agent.state import AgentState
from qiloop.fleet.component_store import ComponentStore, file_key
from qiloop.fleet.file_server import FileServer
from qiloop.fleet.packaging import model_component
from qiloop.fleet.publish import clear_deployment, publish_deployment, publish_retained
from qiloop.fleet.signing import FileSigner

APP = """
import json, os, pathlib, sys, time
out, model, version, mode = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3], sys.argv[4]
if mode == "crash":
    sys.exit(3)
if mode == "late-crash":  # passes the health check, then keeps crashing
    (out / "heartbeat.json").write_text(json.dumps({"pid": os.getpid(), "code": version, "model": "?",
                                                    "model_path": str(model), "time": time.time()}))
    time.sleep(4)
    sys.exit(4)
manifest = json.loads((model / "manifest.json").read_text())
while True:
    beat = {"pid": os.getpid(), "code": version, "model": manifest["version"], "model_path": str(model),
            "time": time.time()}
    (out / ".beat").write_text(json.dumps(beat))
    os.replace(out / ".beat", out / "heartbeat.json")
    time.sleep(0.1)
"""


def code_zip(version: str, *, extra: dict[str, bytes] | None = None) -> bytes:
    """A reproducible zip holding ``app.py`` (and ``extra`` entries)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in {"app.py": APP.encode(), "VERSION": version.encode(), **(extra or {})}.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            archive.writestr(info, data)
    return buffer.getvalue()


class Fleet:
    """The cloud side of one test: publishes components, signs and publishes deployments."""

    def __init__(self, root: Path, broker_url: str) -> None:
        self.root, self.broker_url = root, broker_url
        self.signer = FileSigner.load_or_create(root / "keys")
        self.store = ComponentStore.from_url(root / "store")
        self.server = FileServer(self.store).start()
        self.sequence = 0
        self.published_topics: set[Target] = set()

    def close(self) -> None:
        self.server.stop()
        for target in self.published_topics:
            clear_deployment(self.broker_url, target)

    def model(self, package: Path) -> Component:
        return model_component(self.store, package, name="model")

    def code(self, version: str, *, mode: str = "ok", archive: bytes | None = None, **lifecycle) -> Component:
        command = ["{python}", "{component}/app.py", "{data_dir}", "{model_path}", version, mode]
        lc = Lifecycle(command=command, unpack=["app.zip"], max_restarts=2, restart_window_s=10, **lifecycle)
        return self.store.publish(
            "code", version, "inference", {"app.zip": archive or code_zip(version)}, lifecycle=lc,
            dependencies={"model": ">=1"},
        )  # fmt: skip

    def blob(self, component: Component, name: str) -> Path:
        entry = next(f for f in component.files if f.name == name)
        return Path(self.store.url) / file_key(entry.sha256)

    def deployment(self, device: str, *components: Component, sequence: int | None = None, **fields) -> Deployment:
        if sequence is None:
            self.sequence += 1
            sequence = self.sequence
        refs = [ComponentRef(name=c.name, version=c.version, digest=c.digest) for c in components]
        fields.setdefault("target", Target(kind="device", name=device))
        fields.setdefault("rollout", RolloutPolicy(health_timeout_s=30))
        return Deployment(sequence=sequence, components=refs, **fields)

    def publish(self, deployment: Deployment, signer: FileSigner | None = None) -> Deployment:
        self.published_topics.add(deployment.target)
        publish_deployment(self.broker_url, deployment, signer or self.signer)
        return deployment

    def publish_raw(self, target: Target, payload: bytes) -> None:
        self.published_topics.add(target)
        from qiloop.protocol.topics import deployment_topic

        publish_retained(self.broker_url, deployment_topic(target), payload)


def enroll(fleet_home: Path, device_id: str, home: Path) -> None:
    """Register the device key of ``home`` in the fleet database of ``fleet_home`` (as ``qiloop fleet add-key``)."""
    from qiloop.edge.agent.identity import device_public_key
    from qiloop.fleet.enrollment import register_key
    from qiloop.fleet.registry_db import FleetDB

    db = FleetDB(fleet_home / "fleet.db")
    try:
        register_key(db, device_id, device_public_key(home), replace=True)
    finally:
        db.close()


def expired(**fields) -> dict:
    return {"expires_at": datetime.now(timezone.utc) - timedelta(seconds=1), **fields}


class Device:
    """One nucleus process (``qiloop agent run``) with its own home."""

    def __init__(self, fleet: Fleet, home: Path, device_id: str, *, groups: tuple[str, ...] = ()) -> None:
        self.fleet, self.home, self.device_id, self.groups = fleet, home, device_id, groups
        self.proc: subprocess.Popen | None = None
        home.mkdir(parents=True, exist_ok=True)

    def start(self, *, failpoint: str | None = None, health_window: float = 1.0) -> Device:
        enroll(self.fleet.root, self.device_id, self.home)
        env = {k: v for k, v in os.environ.items() if k != "QILOOP_AGENT_FAILPOINT"}
        if failpoint:
            env["QILOOP_AGENT_FAILPOINT"] = failpoint
        argv = [
            sys.executable, "-m", "qiloop.cli.main", "agent", "run", "--home", str(self.home),
            "--device-id", self.device_id, "--broker", self.fleet.broker_url, "--controller", self.fleet.server.url,
            "--trust-key", str(self.fleet.root / "keys" / "deploy-signing.pub"),
            "--health-window", str(health_window), "--download-retry", "5",
            *[arg for g in self.groups for arg in ("--group", g)],
        ]  # fmt: skip
        log = (self.home.parent / f"{self.home.name}.log").open("ab")
        self.proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        return self

    def wait_exit(self, timeout: float = 60) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self, timeout: float = 30) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def row(self, deployment_id: str):
        state = AgentState(self.home / "state.db")
        try:
            return state.get(deployment_id)
        finally:
            state.close()

    def wait_final(self, deployment_id: str, timeout: float = 60):
        """The deployment's row once it has a final state (fails on timeout or when the nucleus died)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (self.home / "state.db").is_file():
                row = self.row(deployment_id)
                if row is not None and row.final:
                    return row
            assert self.proc is None or self.proc.poll() is None, f"the nucleus exited with {self.proc.returncode}"
            time.sleep(0.1)
        raise AssertionError(f"deployment {deployment_id} did not end within {timeout} s; log: {self.log_tail()}")

    def log_tail(self, n: int = 30) -> str:
        path = self.home.parent / f"{self.home.name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:]) if path.is_file() else ""

    def current(self) -> dict[str, str]:
        path = self.home / "current.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    def heartbeat(self) -> dict | None:
        path = self.home / "data" / "code" / "heartbeat.json"
        return json.loads(path.read_text()) if path.is_file() else None

    def wait_serving(self, code: str, model: str, *, timeout: float = 20) -> dict:
        """Wait until exactly one app process of this home beats with these versions; its heartbeat."""
        deadline, beat = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            beat = self.heartbeat()
            fresh = beat is not None and time.time() - beat["time"] < 1.0
            if fresh and (beat["code"], beat["model"]) == (code, model) and self.app_pids() == [beat["pid"]]:
                return beat
            time.sleep(0.1)
        raise AssertionError(f"not serving code {code} + model {model}: {beat}, apps {self.app_pids()}")

    def app_pids(self) -> list[int]:
        """Live processes started for this home (the marker the supervisor sets in their environment)."""
        needle = f"\0QILOOP_AGENT_HOME={self.home.resolve()}\0".encode()
        found = []
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                if needle in b"\0" + (proc / "environ").read_bytes() + b"\0":
                    status = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
                    if status != "Z":
                        found.append(int(proc.name))
            except (OSError, ValueError):
                continue
        return sorted(found)

    def copy_home_to(self, dest: Path) -> None:
        shutil.copytree(self.home, dest, symlinks=True)


def model_packages(cache: Path) -> dict[str, Path]:
    """Real YOLOv8n packages: versions "1" and "2" (different weights) and "3", which fails its test inference.

    "3" is version 1's network with a manifest that promises two classes: ONNX Runtime loads
    it, and the runtime's test inference refuses the output shape. Written once per test run into
    ``cache``, from the ultralytics exports that ``onnx_models`` keeps under ``.pytest_cache``.
    """
    from onnx_models import build_package
    from qiloop.core.package import write_manifest

    packages = {v: cache / f"model-{v}" for v in ("1", "2", "3")}
    if not (packages["3"] / "manifest.json").is_file():
        build_package(packages["1"], (64, 96), seed=0, int8=True)
        build_package(packages["2"], (64, 96), seed=1, int8=True)
        write_manifest(packages["2"], name="test-detector", version="2", classes=["scratch"],
                       input_height=64, input_width=96)  # fmt: skip
        packages["3"].mkdir(parents=True, exist_ok=True)
        shutil.copy(packages["1"] / "model.onnx", packages["3"] / "model.onnx")
        write_manifest(packages["3"], name="test-detector", version="3", classes=["scratch", "dent"],
                       input_height=64, input_width=96)  # fmt: skip
    return packages
