"""Every bad deployment is refused and leaves the device exactly as it was.

One device runs model 1 + code 1; then each bad document or artefact is published on
its deployment topic. Each must end REJECTED — reported once — with the running set,
the installed versions and the serving process (same pid) unchanged.

Why a bad artefact is REJECTED, not FAILED_ROLLBACK_COMPLETE: it fails verification
while downloading or unpacking, before anything switched, so the device never left
its old set; there is nothing to roll back, and "rejected" tells the fleet the
deployment can never install as given (the same answer a bad signature gets). The same
holds for an archive whose sha256 is right but which cannot be unpacked (a file and a
folder of one name, a name too long, a CRC mismatch, a declared size that lies): the
second test runs those on a device with a model-less app, so it needs no model build.
"""

from __future__ import annotations

import io
import stat
import uuid
import zipfile

import pytest

from bad_archives import REASONS, UNPACKABLE, build_zip
from mqtt_helpers import Subscriber, require_broker
from nucleus_helpers import Device, Fleet, code_zip, expired, model_packages
from qiloop.core.components import Lifecycle
from qiloop.core.deployments import Target
from qiloop.fleet.signing import FileSigner
from qiloop.protocol.topics import report_topic

pytestmark = [pytest.mark.broker, pytest.mark.slow]


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    pytest.importorskip("ultralytics", reason="building test models needs the train extra")
    return model_packages(tmp_path_factory.getbasetemp() / "nucleus-models")


def _zip(entries: list[tuple[str, bytes, int]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = mode << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


REGULAR = stat.S_IFREG | 0o644
ARCHIVES = {
    "dot-dot": _zip([("../escape.py", b"x", REGULAR)]),
    "absolute": _zip([("/tmp/escape.py", b"x", REGULAR)]),
    "symlink": _zip([("app.py", b"/etc/passwd", stat.S_IFLNK | 0o777)]),
    "bomb": _zip([("bomb.bin", bytes(100 * 1024 * 1024), REGULAR)]),
    "reserved-name": _zip([(".complete", b"", REGULAR)]),
}


def _corrupt(how: str, data: bytes) -> bytes:
    if how == "truncated":
        return data[:-100]
    if how == "extended":
        return data + b"\0" * 100
    at = {"flip-start": 0, "flip-middle": len(data) // 2, "flip-end": len(data) - 1}[how]
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]


def test_bad_deployments_are_rejected_and_change_nothing(packages, tmp_path):
    require_broker()
    fleet = Fleet(tmp_path / "fleet", "mqtt://127.0.0.1:1883")
    device_id = f"dev-{uuid.uuid4().hex[:8]}"
    me = Target(kind="device", name=device_id)
    sub = Subscriber(1883, report_topic(device_id))
    device = Device(fleet, tmp_path / "home", device_id).start()
    try:
        model1 = fleet.model(packages["1"])
        good = fleet.publish(fleet.deployment(device_id, model1, fleet.code("1")))
        assert device.wait_final(good.id).state.value == "SUCCEEDED", device.log_tail()
        serving = device.wait_serving("1", "1")
        installed = sorted(p.relative_to(device.home) for p in device.home.glob("components/*/*"))

        cases: dict[str, str] = {}  # case -> the deployment id its REJECTED report carries
        version = 10
        for how in ("flip-start", "flip-middle", "flip-end", "truncated", "extended"):
            version += 1
            code = fleet.code(str(version), archive=code_zip(str(version), extra={"pad": bytes(range(256)) * 64}))
            blob = fleet.blob(code, "app.zip")
            blob.write_bytes(_corrupt(how, blob.read_bytes()))
            cases[how] = fleet.publish(fleet.deployment(device_id, code)).id
        for how, archive in ARCHIVES.items():
            version += 1
            cases[f"archive-{how}"] = fleet.publish(
                fleet.deployment(device_id, fleet.code(str(version), archive=archive))
            ).id
        code = fleet.code("2")
        stranger = FileSigner.load_or_create(tmp_path / "stranger-keys")
        cases["unknown-key"] = fleet.publish(fleet.deployment(device_id, code), signer=stranger).id
        unsigned = fleet.deployment(device_id, code)
        fleet.publish_raw(me, unsigned.canonical())
        cases["unsigned"] = unsigned.id
        cases["expired"] = fleet.publish(fleet.deployment(device_id, code, **expired())).id
        other = fleet.deployment(device_id, code, target=Target(kind="device", name="someone-else"))
        fleet.publish_raw(me, fleet_sign(fleet, other))
        cases["other-device"] = other.id
        cases["replay"] = fleet.publish(fleet.deployment(device_id, code, sequence=1)).id
        altered = fleet.deployment(device_id, code)
        tampered = fleet_sign(fleet, altered).replace(b'\\"sequence\\":', b'\\"sequence\\":9')
        assert tampered != fleet_sign(fleet, altered)
        fleet.publish_raw(me, tampered)
        cases["tampered-document"] = altered.id

        ids = set(cases.values())
        assert sub.wait_until(lambda s: ids <= {m["deployment_id"] for m in _rejections(s)}, timeout=60), (
            sorted(set(cases) - {c for c, i in cases.items() if i in {m["deployment_id"] for m in _rejections(sub)}}),
            device.log_tail(),
        )
        for case, deployment_id in cases.items():
            reports = [m for m in sub.of_kind("deployment") if m["deployment_id"] == deployment_id]
            assert [m["state"] for m in reports if m["state"] != "RECEIVED" and m["state"] in _FINAL] == ["REJECTED"], (
                case
            )
            assert not {"HEALTH_CHECK", "SUCCEEDED"} & {m["state"] for m in reports}, case
        print("\n" + "\n".join(f"{c}: {next(m['detail'] for m in _rejections(sub) if m['deployment_id'] == i)}"
                               for c, i in cases.items()))  # fmt: skip
        assert device.current() == {"code": "1", "model": "1"}
        assert sorted(p.relative_to(device.home) for p in device.home.glob("components/*/*")) == installed
        assert device.wait_serving("1", "1")["pid"] == serving["pid"]  # never restarted
        assert not (tmp_path / "escape.py").exists() and not (device.home / "components" / "escape.py").exists()
        assert list(device.home.joinpath("downloads").iterdir()) == []
        assert device.stop() == 0
    finally:
        device.kill()
        sub.close()
        fleet.close()


_FINAL = ("SUCCEEDED", "FAILED_ROLLBACK_COMPLETE", "FAILED_ROLLBACK_FAILED", "REJECTED")


def _rejections(sub: Subscriber) -> list[dict]:
    return [m for m in sub.of_kind("deployment") if m["state"] == "REJECTED"]


def fleet_sign(fleet: Fleet, deployment) -> bytes:
    from qiloop.fleet.signing import sign_deployment

    return sign_deployment(deployment, fleet.signer).model_dump_json().encode()


HEARTBEAT_APP = b"""
import json, os, pathlib, sys, time
out, version = pathlib.Path(sys.argv[1]), sys.argv[2]
while True:
    beat = {"pid": os.getpid(), "code": version, "model": "-", "time": time.time()}
    (out / ".beat").write_text(json.dumps(beat))
    os.replace(out / ".beat", out / "heartbeat.json")
    time.sleep(0.1)
"""


def _app(fleet: Fleet, version: str, archive: bytes):
    """A code component with no model: a heartbeat loop unpacked from ``app.zip``."""
    lifecycle = Lifecycle(command=["{python}", "{component}/app.py", "{data_dir}", version], unpack=["app.zip"],
                          max_restarts=2, restart_window_s=10)  # fmt: skip
    return fleet.store.publish("code", version, "inference", {"app.zip": archive}, lifecycle=lifecycle)


def test_archives_that_cannot_unpack_are_rejected_not_rolled_back(tmp_path):
    """A file and a folder of one name, a name too long, a CRC mismatch, a lying size: REJECTED, old app runs on.

    Each archive matches the sha256 its signed deployment names, so only unpacking finds the
    fault; it did so before anything switched, so the answer is REJECTED (never
    FAILED_ROLLBACK_COMPLETE), reported once, and version 1 keeps running in the same process.
    """
    require_broker()
    fleet = Fleet(tmp_path / "fleet", "mqtt://127.0.0.1:1883")
    device_id = f"dev-{uuid.uuid4().hex[:8]}"
    sub = Subscriber(1883, report_topic(device_id))
    device = Device(fleet, tmp_path / "home", device_id).start()
    try:
        good = fleet.publish(
            fleet.deployment(device_id, _app(fleet, "1", build_zip([("app.py", HEARTBEAT_APP, REGULAR)])))
        )
        assert device.wait_final(good.id).state.value == "SUCCEEDED", device.log_tail()
        serving = device.wait_serving("1", "-")
        installed = sorted(p.relative_to(device.home) for p in device.home.glob("components/*/*"))

        cases = {}
        for version, case in enumerate(sorted(UNPACKABLE), start=2):
            cases[case] = fleet.publish(fleet.deployment(device_id, _app(fleet, str(version), UNPACKABLE[case]))).id
        for case, deployment_id in cases.items():
            row = device.wait_final(deployment_id)
            assert (row.state.value, case) == ("REJECTED", case), row.detail
            assert REASONS[case] in row.detail, (case, row.detail)
        ids = set(cases.values())
        assert sub.wait_until(lambda s: ids <= {m["deployment_id"] for m in _rejections(s)}, timeout=30)
        for case, deployment_id in cases.items():
            states = [m["state"] for m in sub.of_kind("deployment") if m["deployment_id"] == deployment_id]
            assert states == ["RECEIVED", "DOWNLOADING", "INSTALLING", "REJECTED"], (case, states)

        assert device.current() == {"code": "1"}
        assert sorted(p.relative_to(device.home) for p in device.home.glob("components/*/*")) == installed
        assert device.wait_serving("1", "-")["pid"] == serving["pid"]  # never restarted
        assert list(device.home.joinpath("downloads").iterdir()) == []
        assert device.stop() == 0
    finally:
        device.kill()
        sub.close()
        fleet.close()
