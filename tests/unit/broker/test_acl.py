"""The Mosquitto ACL generator (pure half) and the qiloop broker acl and certs commands."""

from __future__ import annotations

import pytest

from qiloop.broker.acl import DeviceAccess, acl_text
from qiloop.cli.main import main
from qiloop.core.errors import ConfigurationError


def rules(text: str) -> dict[str, list[str]]:
    """Account → its 'topic ...' lines, in order."""
    found: dict[str, list[str]] = {}
    user = None
    for line in text.splitlines():
        if line.startswith("user "):
            user = line.split(None, 1)[1]
            found[user] = []
        elif line.startswith("topic "):
            assert user is not None, "a rule before any user line would apply to anonymous clients"
            found[user].append(line)
    return found


def test_each_device_gets_its_own_topics_its_groups_and_the_results_topic():
    text = acl_text([DeviceAccess("cam-1", ("line-1",)), DeviceAccess("cam-2"), DeviceAccess("cam-1", ("line-2",))],
                    services=["ctl"])  # fmt: skip
    assert rules(text) == {
        "cam-1": ["topic write qiloop/devices/cam-1/#", "topic write qualityinspection/scratch-detection",
                  "topic read qiloop/deployments/device/cam-1", "topic read qiloop/deployments/group/line-1",
                  "topic read qiloop/deployments/group/line-2"],
        "cam-2": ["topic write qiloop/devices/cam-2/#", "topic write qualityinspection/scratch-detection",
                  "topic read qiloop/deployments/device/cam-2"],
        "ctl": ["topic readwrite qiloop/#", "topic read qualityinspection/scratch-detection"],
    }  # fmt: skip


@pytest.mark.parametrize(
    ("devices", "kwargs", "problem"),
    [
        ([DeviceAccess("cam/1")], {}, "not a valid name"),
        ([DeviceAccess("cam-+")], {}, "not a valid name"),
        ([DeviceAccess("cam-1", ("#",))], {}, "group of cam-1"),
        ([DeviceAccess("Cam-1")], {}, "not a valid name"),
        ([DeviceAccess("cam-1")], {"results_topic": "results/#"}, "cannot be granted"),
        ([DeviceAccess("cam-1")], {"results_topic": "qiloop/devices/cam-2/status"}, "cannot be granted"),
        ([DeviceAccess("cam-1")], {"services": ["cam-1"]}, "both a device and a service"),
        ([DeviceAccess("cam-1")], {"services": ["bad name"]}, "not a valid account"),
    ],
)
def test_names_that_would_widen_a_device_s_topics_are_refused(devices, kwargs, problem):
    with pytest.raises(ConfigurationError, match=problem):
        acl_text(devices, **kwargs)


def test_the_acl_command_writes_the_file_and_refuses_an_empty_fleet(tmp_path, capsys):
    out = tmp_path / "mosquitto" / "acl"
    assert main(["broker", "acl", "--device", "cam-1:line-1,line-2", "--device", "cam-2", "--out", str(out),
                 "--home", str(tmp_path / "home")]) == 0  # fmt: skip
    assert set(rules(out.read_text())) == {"cam-1", "cam-2", "qiloop-controller", "qiloop-collector"}
    assert out.stat().st_mode & 0o777 == 0o640
    assert main(["broker", "acl", "--home", str(tmp_path / "home")]) == 2
    assert "--device" in capsys.readouterr().err


def test_the_certs_command_issues_a_broker_and_client_certificates_from_one_ca(tmp_path):
    from cryptography import x509

    out, ca_dir = tmp_path / "tls", tmp_path / "ca"
    argv = ["broker", "certs", "--out", str(out), "--ca-dir", str(ca_dir), "--broker-host", "broker.example.com",
            "--broker-host", "10.0.0.5", "--client", "cam-1", "--server", "fleet=fleet.example.com"]  # fmt: skip
    assert main(argv) == 0
    ca = x509.load_pem_x509_certificate((ca_dir / "ca.pem").read_bytes())
    assert (out / "ca.pem").read_bytes() == (ca_dir / "ca.pem").read_bytes() and not (out / "ca.key").exists()
    for name, common_name in (("broker", "broker.example.com"), ("cam-1", "cam-1"), ("fleet", "fleet.example.com")):
        cert = x509.load_pem_x509_certificate((out / f"{name}.pem").read_bytes())
        cert.verify_directly_issued_by(ca)
        assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == common_name
        assert (out / f"{name}.key").stat().st_mode & 0o777 == 0o600
    sans = x509.load_pem_x509_certificate((out / "broker.pem").read_bytes()).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert [str(v) for v in sans.value.get_values_for_type(x509.IPAddress)] == ["10.0.0.5"]
    assert main([*argv[:6], "--client", "cam-2"]) == 0  # the same CA signs later certificates
    x509.load_pem_x509_certificate((out / "cam-2.pem").read_bytes()).verify_directly_issued_by(ca)


def test_the_acl_command_takes_the_fleets_devices_and_their_groups(tmp_path, capsys):
    from qiloop.fleet.registry_db import FleetDB
    from qiloop.protocol.reports import DeviceHello

    home = tmp_path / "home"
    home.mkdir()
    fleet = FleetDB(home / "fleet.db")
    fleet.add_hello(DeviceHello(device_id="cam-7", groups=["line-3"]))
    fleet.close()
    assert main(["broker", "acl", "--from-fleet", "--device", "cam-8", "--home", str(home)]) == 0
    found = rules(capsys.readouterr().out)
    assert "topic read qiloop/deployments/group/line-3" in found["cam-7"] and set(found) >= {"cam-7", "cam-8"}
    assert main(["broker", "acl", "--from-fleet", "--home", str(tmp_path / "nowhere")]) == 5
