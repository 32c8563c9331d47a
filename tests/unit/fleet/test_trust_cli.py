"""``qiloop fleet enroll-token``, ``add-key``, ``keys`` and ``remove-key``, through the CLI in this process.

The token the CLI prints enrolls a real device key through the controller; the key file an admin
adds is the one the device keeps in its home; bad input exits with what to do.
"""

from __future__ import annotations

import json

import pytest

from qiloop.cli.main import main
from qiloop.edge.agent.identity import device_signer
from qiloop.fleet.controller import FleetController
from qiloop.protocol.enrollment import enrollment_proof
from qiloop.protocol.keys import encode_public_key
from qiloop.protocol.reports import DeviceHello
from qiloop.protocol.topics import hello_topic
from qiloop.settings import Settings


@pytest.fixture
def home(tmp_path):
    return tmp_path / "home"


def _json(capsys):
    return json.loads(capsys.readouterr().out)


def test_a_printed_token_enrolls_the_device_once(home, tmp_path, capsys):
    assert main(["fleet", "enroll-token", "--device", "cam-1", "--ttl", "1", "--home", str(home), "--json"]) == 0
    token = _json(capsys)["token"]
    assert len(token) >= 32
    signer = device_signer(tmp_path / "device")
    public = encode_public_key(signer.public_key)
    hello = DeviceHello(device_id="cam-1", public_key=public, enrollment=enrollment_proof(token, "cam-1", public))
    controller = FleetController.from_settings(Settings(home=home))
    assert controller.receive(hello_topic("cam-1"), signer.sign({**hello.body(), "sequence": 1})) == "hello"
    controller.db.close()
    assert main(["fleet", "keys", "--home", str(home), "--json"]) == 0
    (row,) = _json(capsys)
    assert (row["device_id"], row["key_id"], row["source"]) == ("cam-1", signer.key_id, "token")


def test_an_admin_adds_the_key_file_of_a_device_home_and_removes_it(home, tmp_path, capsys):
    signer = device_signer(tmp_path / "device")
    key_file = str(tmp_path / "device" / "identity" / "device.pub")
    assert main(["fleet", "add-key", "--device", "cam-2", "--key-file", key_file, "--home", str(home)]) == 0
    assert f"cam-2: key {signer.key_id} registered" in capsys.readouterr().out
    other = encode_public_key(device_signer(tmp_path / "other").public_key)
    assert main(["fleet", "add-key", "--device", "cam-2", "--key", other, "--home", str(home)]) == 2
    assert "--replace" in capsys.readouterr().err  # a second key needs the admin to say so
    assert main(["fleet", "add-key", "--device", "cam-2", "--key", other, "--replace", "--home", str(home)]) == 0
    capsys.readouterr()
    assert main(["fleet", "keys", "--home", str(home)]) == 0
    assert "cam-2" in capsys.readouterr().out
    assert main(["fleet", "remove-key", "--device", "cam-2", "--home", str(home)]) == 0
    assert main(["fleet", "remove-key", "--device", "cam-2", "--home", str(home)]) == 5
    capsys.readouterr()
    assert main(["fleet", "keys", "--home", str(home)]) == 0
    assert "no device keys registered" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["enroll-token", "--device", "Not A Name"], 2, "invalid device id"),
        (["add-key", "--device", "cam-1"], 2, "--key, --key-file or --pending"),
        (["add-key", "--device", "cam-1", "--pending"], 5, "is not waiting to join"),
        (["add-key", "--device", "cam-1", "--key", "not base64!"], 4, "not a base64 public key"),
        (["add-key", "--device", "cam-1", "--key", "AAAA"], 4, "32 bytes"),
        (["add-key", "--device", "cam-1", "--key-file", "/nonexistent/device.pub"], 5, "no public key file"),
    ],
)
def test_bad_input_exits_with_what_to_do(home, capsys, args, code, fragment):
    assert main(["fleet", *args, "--home", str(home)]) == code
    assert fragment in " ".join(capsys.readouterr().err.split())


def test_a_device_that_asks_to_join_is_listed_and_admitted_by_its_key_id(home, tmp_path, capsys):
    signer = device_signer(tmp_path / "device")
    public = encode_public_key(signer.public_key)
    controller = FleetController.from_settings(Settings(home=home))
    hello = signer.sign({**DeviceHello(device_id="cam-3", groups=["line-1"], public_key=public).body(), "sequence": 1})
    assert controller.receive(hello_topic("cam-3"), hello) == "rejected"  # not enrolled: it waits
    assert main(["fleet", "keys", "--pending", "--home", str(home), "--json"]) == 0
    (waiting,) = _json(capsys)
    assert (waiting["device_id"], waiting["key_id"], waiting["public_key"]) == ("cam-3", signer.key_id, public)
    assert main(["fleet", "keys", "--pending", "--home", str(home)]) == 0
    table = capsys.readouterr().out
    assert "last hello" in table and "cam-3" in table and signer.key_id in table
    wrong = ["fleet", "add-key", "--device", "cam-3", "--pending", "--key-id", "0" * 16, "--home", str(home)]
    assert main(wrong) == 2
    assert signer.key_id in capsys.readouterr().err
    right = ["fleet", "add-key", "--device", "cam-3", "--pending", "--key-id", signer.key_id, "--home", str(home)]
    assert main(right) == 0
    capsys.readouterr()
    controller.step()  # the controller takes the waiting hello in, now that its key is registered
    assert [d.device_id for d in controller.db.devices("line-1")] == ["cam-3"]
    assert controller.db.pending_devices() == []
    controller.db.close()
    assert main(["fleet", "keys", "--pending", "--home", str(home)]) == 0
    assert "no device is waiting to join" in capsys.readouterr().out
