"""The nucleus's Deployer as a state machine: failure point → final state and the exact reports.

Everything the Deployer talks to is real and local: a device home, the SQLite state,
a component store behind a real HTTP file server, ed25519 signatures, real component
processes under the supervisor, and the durable report outbox (with no broker
attached, so every report stays queued and is read back in order). A failure is
injected either by what the fleet serves (a bad signature, a corrupt file, a crashing
program) or, where only the device itself can fail (a full disk while unpacking, an
I/O error while switching), through the failpoint hook the Deployer already accepts:
:class:`Breaks` raises an ``OSError`` at its point instead of killing the process.

Every row starts from the same device: ``app`` version 1 deployed through the Deployer
and running. Each row asserts the returned final state, the whole sequence of reports
(each state exactly once), the running set afterwards, and that the same document
handled again yields nothing.
"""

from __future__ import annotations

import errno
import json
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bad_archives import REGULAR, build_zip, crc_mismatch
from qiloop.core.components import Component, Lifecycle
from qiloop.core.deployments import ComponentRef, Deployment, DeploymentState, Target
from qiloop.edge.agent.config import AgentConfig
from qiloop.edge.agent.deployer import Deployer
from qiloop.edge.agent.failpoint import Failpoints
from qiloop.edge.agent.home import DeviceHome
from qiloop.edge.agent.installer import Installer
from qiloop.edge.agent.reporter import Reporter
from qiloop.edge.agent.state import AgentState
from qiloop.edge.agent.supervisor import Supervisor
from qiloop.edge.agent.trust import TrustStore
from qiloop.edge.inference.outbox import Outbox
from qiloop.fleet.component_store import ComponentStore, file_key
from qiloop.fleet.file_server import FileServer
from qiloop.fleet.signing import FileSigner, sign_deployment

DEVICE = "cam-1"
SLEEPER = "import time\nwhile True:\n    time.sleep(1)\n"


class Breaks(Failpoints):
    """The failpoint hook as a fault: raise ``error`` the first time ``point`` is reached."""

    def __init__(self, point: str | None = None, error: BaseException | None = None) -> None:
        super().__init__()
        self.point, self.error = point, error

    def hit(self, name: str) -> None:
        if name == self.point and self.error is not None:
            error, self.error = self.error, None
            raise error


@dataclass
class Device:
    """One device's collaborators, shared by the Deployers a test builds over them."""

    config: AgentConfig
    home: DeviceHome
    state: AgentState
    trust: TrustStore
    supervisor: Supervisor
    reporter: Reporter
    stop: threading.Event = field(default_factory=threading.Event)

    def deployer(self, *, controller: str, failpoints: Failpoints | None = None) -> Deployer:
        failpoints = failpoints or Failpoints()
        installer = Installer(self.home, controller, failpoints=failpoints, timeout=5)
        return Deployer(self.config, self.home, self.state, self.trust, installer, self.supervisor, self.reporter,
                        failpoints=failpoints, stop=self.stop)  # fmt: skip

    def reports(self) -> list[dict]:
        """Every queued report, oldest first, and empty the queue."""
        messages = self.reporter.outbox.pending(1000)
        for message in messages:
            self.reporter.outbox.ack(message.sequence)
        return [json.loads(m.payload) for m in messages]

    def pid(self) -> int:
        return self.supervisor.children["app"].proc.pid


@pytest.fixture
def fleet(tmp_path):
    store = ComponentStore.from_url(tmp_path / "store")
    signer = FileSigner.load_or_create(tmp_path / "keys")
    with FileServer(store) as server:
        yield store, signer, server


@pytest.fixture
def device(tmp_path, fleet):
    store, signer, server = fleet
    home = DeviceHome(tmp_path / "home")
    TrustStore.add(home.trusted_keys, signer.public_key)
    config = AgentConfig(home=home.root, device_id=DEVICE, controller_url=server.url, health_window_s=0.8,
                         download_retry_s=0.3, stop_timeout_s=2)  # fmt: skip
    outbox = Outbox(home.root / "reports.sqlite", device_id=DEVICE, max_bytes=1 << 20, drop_policy="newest")
    dev = Device(config, home, AgentState(home.state_path), TrustStore.load(home.trusted_keys),
                 Supervisor(home.root, stop_timeout_s=2), Reporter(outbox, None))  # fmt: skip
    v1 = _app(store, "1")
    assert dev.deployer(controller=server.url).handle(_signed(signer, _deployment(v1, sequence=1))).value == "SUCCEEDED"
    assert dev.home.current() == {"app": "1"} and dev.supervisor.alive("app")
    dev.reports()
    try:
        yield dev
    finally:
        dev.supervisor.stop_all()
        dev.state.close()
        outbox.close()


def _app(store: ComponentStore, version: str, *, program: str = SLEEPER, archive: bytes | None = None) -> Component:
    """A component running ``app.py`` from its ``app.zip`` (``program`` unless ``archive`` is given).

    The program ``CRASHES`` runs as a shell that exits at once, so the crash lands well inside the
    health window even on a busy machine.
    """
    command = ["/bin/sh", "-c", "exit 3"] if program == CRASHES else ["{python}", "{component}/app.py"]
    lifecycle = Lifecycle(command=command, unpack=["app.zip"], max_restarts=0)
    archive = archive or build_zip([("app.py", f"# app {version}\n{program}".encode(), REGULAR)])
    return store.publish("app", version, "inference", {"app.zip": archive}, lifecycle=lifecycle)


def _deployment(*components: Component, sequence: int = 2, digest: str | None = None, **fields) -> Deployment:
    refs = [ComponentRef(name=c.name, version=c.version, digest=digest or c.digest) for c in components]
    return Deployment(sequence=sequence, target=Target(kind="device", name=DEVICE), components=refs, **fields)


def _signed(signer: FileSigner, deployment: Deployment) -> bytes:
    return sign_deployment(deployment, signer).model_dump_json().encode()


def _closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def _break_file(store: ComponentStore, component: Component, *, remove: bool = False) -> None:
    blob = Path(store.url) / file_key(component.files[0].sha256)
    if remove:
        blob.unlink()
    else:
        data = blob.read_bytes()
        blob.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))


R, D, INST, H = "RECEIVED", "DOWNLOADING", "INSTALLING", "HEALTH_CHECK"
ROWS = {
    # failure point: (final state, the states reported in order, running version afterwards, old process kept)
    "signature": ("REJECTED", ["REJECTED"], "1", True),
    "admission": ("REJECTED", ["REJECTED"], "1", True),
    "document-digest": ("REJECTED", [R, "REJECTED"], "1", True),
    "controller-unreachable": ("FAILED_ROLLBACK_COMPLETE", [R, "FAILED_ROLLBACK_COMPLETE"], "1", True),
    "download-corrupt": ("REJECTED", [R, D, "REJECTED"], "1", True),
    "download-fails": ("FAILED_ROLLBACK_COMPLETE", [R, D, "FAILED_ROLLBACK_COMPLETE"], "1", True),
    "unsafe-archive": ("REJECTED", [R, D, INST, "REJECTED"], "1", True),
    "corrupt-archive": ("REJECTED", [R, D, INST, "REJECTED"], "1", True),
    "staging-disk-full": ("FAILED_ROLLBACK_COMPLETE", [R, D, INST, "FAILED_ROLLBACK_COMPLETE"], "1", True),
    "switch-fails": ("FAILED_ROLLBACK_COMPLETE", [R, D, INST, "FAILED_ROLLBACK_COMPLETE"], "1", True),
    "health-check-fails": ("FAILED_ROLLBACK_COMPLETE", [R, D, INST, H, "FAILED_ROLLBACK_COMPLETE"], "1", False),
    "rollback-fails": ("FAILED_ROLLBACK_FAILED", [R, D, INST, H, "FAILED_ROLLBACK_FAILED"], "1", False),
    "success": ("SUCCEEDED", [R, D, INST, H, "SUCCEEDED"], "2", False),
}


CRASHES = "import sys\nsys.exit(3)\n"
ARCHIVES = {"unsafe-archive": build_zip([("../escape.py", b"x", REGULAR)]), "corrupt-archive": crc_mismatch()}


def _arrange(case: str, store: ComponentStore, signer: FileSigner, server_url: str, device: Device):
    """The payload of the row's deployment and the Deployer that handles it."""
    program = CRASHES if case in ("health-check-fails", "rollback-fails") else SLEEPER
    component = _app(store, "2", program=program, archive=ARCHIVES.get(case))
    deployment = _deployment(component)
    controller, breaks, signing = server_url, Breaks(), signer
    if case == "signature":
        signing = FileSigner.load_or_create(device.home.root.parent / "stranger")
    elif case == "admission":
        deployment = _deployment(component, sequence=1)  # a replay: sequence 1 was version 1's
    elif case == "document-digest":
        deployment = _deployment(component, digest="0" * 64)
    elif case == "controller-unreachable":
        controller = _closed_port()
    elif case in ("download-corrupt", "download-fails"):
        _break_file(store, component, remove=case == "download-fails")
    elif case == "staging-disk-full":
        breaks = Breaks("unpack", OSError(errno.ENOSPC, "No space left on device"))
    elif case in ("switch-fails", "rollback-fails"):
        breaks = Breaks("after_switch" if case == "switch-fails" else "rollback", OSError(errno.EIO, "I/O error"))
    return _signed(signing, deployment), device.deployer(controller=controller, failpoints=breaks)


@pytest.mark.parametrize("case", list(ROWS))
def test_each_failure_point_ends_in_its_state_with_each_report_once(case, fleet, device):
    store, signer, server = fleet
    final, states, running, same_process = ROWS[case]
    before = device.pid()
    payload, deployer = _arrange(case, store, signer, server.url, device)

    assert deployer.handle(payload).value == final
    reports = device.reports()
    assert [r["state"] for r in reports] == states, [(r["state"], r["detail"]) for r in reports]
    assert all(r["device_id"] == DEVICE for r in reports)
    assert reports[-1]["running"] == {"app": running}
    assert device.home.current() == {"app": running}
    if final != "FAILED_ROLLBACK_FAILED":
        assert device.supervisor.alive("app")
    assert (device.pid() == before) is same_process
    assert list(device.home.downloads.iterdir()) == []
    if final == "SUCCEEDED":
        assert device.home.is_complete("app", "2") and device.home.is_complete("app", "1")  # 1 kept for rollback
    elif final != "FAILED_ROLLBACK_FAILED":  # a failed rollback keeps what it had, for diagnosis
        assert not device.home.version_dir("app", "2").exists()  # nothing half-installed stays behind

    again = deployer.handle(payload)  # the same document again (the broker's retained copy): nothing new
    assert again is None or (again == DeploymentState.REJECTED and final == "REJECTED")
    assert device.reports() == []


def test_a_row_for_every_final_state():
    assert {row[0] for row in ROWS.values()} == {s.value for s in DeploymentState if s.final}
