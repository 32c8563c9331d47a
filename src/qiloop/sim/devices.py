"""A simulated production line: real device agents in one group, the fleet controller, and a broker.

Each device is a real nucleus process (``qiloop agent run``) with its own home,
trusting the home's deployment key; the fleet controller service (file server,
rollouts, results collector) runs in this process. Camera images are files
dropped into each device's camera folder; the inference component the fleet
deployed inspects them and publishes results (and uncertain images as feedback)
over MQTT to the collector. Lifecycle: :meth:`SimulatedLine.start` → use →
:meth:`SimulatedLine.stop` (or a ``with`` block).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from qiloop.core.errors import QiloopError

GROUP = "demo-line"
DEVICES = ("line-1", "line-2")


class SimulatedLine:
    """Devices of one group with their camera folders, and the controller service that deploys to them.

    Args:
        settings: The qiloop home's settings (its keys sign deployments; its stores receive results).
        root: Where the devices' homes and logs live.
        service: A started :class:`qiloop.fleet.service.ControllerService`.
        processes: The devices' agent processes, by device id.
        embedded: The embedded broker to stop with the line, if one was started.
    """

    def __init__(self, settings, root: Path, service, processes: dict, *, group: str, embedded=None) -> None:
        self.settings, self.root, self.service, self.processes = settings, root, service, processes
        self.group, self.embedded = group, embedded

    @classmethod
    def start(
        cls, settings, root: str | Path | None = None, *, group: str = GROUP, devices: Sequence[str] = DEVICES,
        on_result: Callable | None = None, timeout: float = 30.0,
    ) -> SimulatedLine:  # fmt: skip
        """Start a broker (unless one is configured), the controller service and the devices; wait for their hellos.

        Raises:
            QiloopError: A device did not say hello within ``timeout`` (its log is named).
        """
        from qiloop.broker import broker_url
        from qiloop.fleet.service import ControllerService

        root = Path(root) if root is not None else settings.home / "line"
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        url, embedded = broker_url(settings)
        service = ControllerService.create(settings, url, port=0, client_id="qiloop-sim-line")
        service.interval = 0.1
        line = cls(settings, root, service, {}, group=group, embedded=embedded)
        try:
            service.start()
            if on_result is not None:
                service.collector.on_result(on_result)
            since = time.time()
            for device in devices:
                token = _enroll_token(service.controller.db, device)
                line.processes[device] = _start_device(settings, root, device, group, url, service.files_url, token)
            line._wait(lambda: line._greeted(since), timeout, "the devices' hellos")
        except BaseException:
            line.stop()
            raise
        return line

    @property
    def devices(self) -> tuple[str, ...]:
        return tuple(self.processes)

    @property
    def controller(self):
        return self.service.controller

    @property
    def broker_url(self) -> str:
        return self.service.broker_url

    def results_db(self):
        """The results database the line's collector stores into."""
        return self.service.collector.intake.db

    def camera(self, device: str) -> Path:
        """The folder the device watches (its camera)."""
        return self.root / device / "camera"

    def results_stored(self) -> int:
        """Results the collector stored since the line started."""
        return self.service.collector.stats().of("result")["stored"]

    def inspect(self, files: Sequence[Path], *, timeout: float = 120.0) -> dict[str, int]:
        """Drop ``files`` into the devices' cameras (in turn) and wait until their results and feedback arrived.

        Returns:
            Images given to each device.

        Raises:
            QiloopError: Not every result arrived within ``timeout``.
        """
        before = self.results_stored()
        given = {d: 0 for d in self.devices}
        for i, path in enumerate(files):
            device = self.devices[i % len(self.devices)]
            shutil.copy2(path, self.camera(device) / Path(path).name)
            given[device] += 1
        self._wait(lambda: self.results_stored() >= before + len(files), timeout, "the devices' results")
        self.service.collector.wait_idle(timeout=15, quiet=1.0)  # feedback images follow their results
        return given

    def stop(self) -> None:
        """Stop the devices (SIGTERM, then kill), the controller service and the embedded broker."""
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.processes.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        self.service.stop()
        if self.embedded is not None:
            self.embedded.stop()
        else:
            _clear_retained(self.broker_url, self.group, self.devices)

    def __enter__(self) -> SimulatedLine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _greeted(self, since: float) -> bool:
        fresh = {d.device_id for d in self.controller.db.devices(self.group) if (d.hello_at or 0) >= since}
        return fresh >= set(self.devices)

    def _wait(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            for device, proc in self.processes.items():
                if proc.poll() is not None:
                    raise QiloopError(
                        f"device {device} exited with {proc.returncode} while waiting for {what}",
                        hint=f"see its log {self.root / f'{device}.log'}",
                    )
            if time.monotonic() > deadline:
                raise QiloopError(f"waited {timeout:g} s for {what}", hint=f"see the device logs in {self.root}")
            time.sleep(0.1)


def _enroll_token(fleet_db, device_id: str) -> str:
    """A one-time token that enrolls the device's new key on its first hello (a key it had before is forgotten)."""
    import secrets

    from qiloop.protocol.enrollment import token_digest

    token = secrets.token_urlsafe(24)
    fleet_db.remove_device_key(device_id)
    fleet_db.add_enroll_token(device_id, token_digest(token), time.time() + 600)
    return token


def _start_device(
    settings, root: Path, device_id: str, group: str, url: str, files_url: str, token: str
) -> subprocess.Popen:
    home = root / device_id
    home.mkdir(parents=True)
    # QILOOP_HOME: where the device's inference app keeps its outbox.
    env = {**os.environ, "QILOOP_HOME": str(home / "app"), "QILOOP_ENROLL_TOKEN": token}
    argv = [sys.executable, "-m", "qiloop.cli.main", "agent", "run", "--home", str(home), "--device-id", device_id,
            "--group", group, "--broker", url, "--controller", files_url,
            "--trust-key", str(settings.home / "keys" / "deploy-signing.pub"), "--health-window", "2"]  # fmt: skip
    log = (root / f"{device_id}.log").open("ab")
    try:
        return subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    finally:
        log.close()  # the child holds its own descriptor


def _clear_retained(url: str, group: str, devices: Sequence[str]) -> None:
    """On a broker that outlives the line, clear the retained deployments and hellos it left."""
    from qiloop.core.deployments import Target
    from qiloop.fleet.publish import publish_retained
    from qiloop.protocol.topics import deployment_topic, hello_topic

    targets = [Target(kind="group", name=group), *(Target(kind="device", name=d) for d in devices)]
    for topic in [*(deployment_topic(t) for t in targets), *(hello_topic(d) for d in devices)]:
        publish_retained(url, topic, b"")
