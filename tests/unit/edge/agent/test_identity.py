"""The device key: made once in the device home, its public half beside it, found by the nucleus's children."""

from qiloop.edge.agent.identity import (
    DEVICE_KEY_ENV,
    HELLO_COUNTER,
    device_public_key,
    device_signer,
    next_hello_sequence,
    signer_from_environment,
)
from qiloop.edge.agent.supervisor import MARKER
from qiloop.protocol.keys import decode_public_key
from qiloop.protocol.signed import read_signed


def test_the_device_key_is_made_once_with_its_public_file(tmp_path):
    signer = device_signer(tmp_path)
    assert (tmp_path / "identity" / "device.pem").stat().st_mode & 0o777 == 0o600
    public = (tmp_path / "identity" / "device.pub").read_text()
    assert decode_public_key(public) == signer.public_key
    assert device_public_key(tmp_path) == public.strip()
    assert device_signer(tmp_path).key_id == signer.key_id


def test_a_component_signs_with_its_nucleus_key_or_the_key_it_is_given(tmp_path):
    nucleus = device_signer(tmp_path / "agent")
    under_nucleus = signer_from_environment({MARKER: str(tmp_path / "agent")})
    assert under_nucleus is not None and under_nucleus.key_id == nucleus.key_id
    payload = under_nucleus.sign({"kind": "status", "device_id": "cam-1", "sequence": 1})
    assert read_signed(payload).verify(nucleus.public_key)["sequence"] == 1
    given = signer_from_environment({DEVICE_KEY_ENV: str(tmp_path / "own.pem"), MARKER: str(tmp_path / "agent")})
    assert given is not None and given.key_id != nucleus.key_id  # the explicit key wins
    assert signer_from_environment({}) is None  # a component run by hand: unsigned
    assert signer_from_environment({MARKER: str(tmp_path / "no-home")}) is None  # never makes a key there


def test_hellos_are_numbered_up_from_the_clock_and_survive_a_restart(tmp_path):
    import time

    before = int(time.time() * 1_000_000)
    first = next_hello_sequence(tmp_path)
    assert first > before and next_hello_sequence(tmp_path) == first + 1
    assert int((tmp_path / HELLO_COUNTER).read_text()) == first + 1  # the next nucleus goes on from here
    (tmp_path / HELLO_COUNTER).write_text("7")
    assert next_hello_sequence(tmp_path) == 8  # a counter, not the clock
