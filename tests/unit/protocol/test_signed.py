"""Signed device messages: what the device signs, what the fleet checks, and the enrollment proof."""

import json

import pytest

from qiloop.core.errors import InvalidRecordError
from qiloop.protocol.enrollment import enrollment_proof, proof_matches, token_digest
from qiloop.protocol.keys import SignatureError, decode_public_key, encode_public_key, key_id
from qiloop.protocol.messages import DeviceStatus, InferenceResult, parse_message
from qiloop.protocol.signed import MessageSigner, canonical, read_signed


@pytest.fixture
def signer(tmp_path):
    return MessageSigner.from_key_file(tmp_path / "identity" / "device.pem")


def _result(**fields):
    body = InferenceResult(device_id="cam-1", image_name="tag 1.png", model_name="det", verdict="pass", latency_ms=12.5)
    return {**body.body(), "sequence": 7, **fields}


def test_a_signed_message_keeps_its_fields_and_verifies_with_the_device_key(signer):
    payload = signer.sign(_result())
    data = json.loads(payload)
    assert data["key_id"] == signer.key_id == key_id(signer.public_key)
    assert data["timestamp"] and data["inference_results"] == []  # the reference app's fields stay where they were
    fields = read_signed(payload).verify(signer.public_key)
    assert "signature" not in fields and fields["sequence"] == 7
    message = parse_message(fields)
    assert isinstance(message, InferenceResult) and message.sequence == 7


def test_the_key_file_is_made_once_and_read_back(tmp_path, signer):
    again = MessageSigner.from_key_file(tmp_path / "identity" / "device.pem")
    assert again.public_key == signer.public_key
    assert (tmp_path / "identity" / "device.pem").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    "tamper",
    [
        lambda d: d.update(verdict="fail"),  # a changed field
        lambda d: d.update(sequence=8),  # a changed sequence: a replay cannot be renumbered
        lambda d: d.update(device_id="cam-2"),  # another device's name
        lambda d: d.update(extra="x"),  # an added field
        lambda d: d.pop("latency_ms"),  # a removed field
    ],
)
def test_any_change_to_a_signed_message_breaks_its_signature(signer, tamper):
    data = json.loads(signer.sign(_result()))
    tamper(data)
    with pytest.raises(SignatureError):
        read_signed(json.dumps(data)).verify(signer.public_key)


def test_the_signature_does_not_depend_on_key_order_or_spacing(signer):
    data = json.loads(signer.sign(_result()))
    reordered = json.dumps(dict(reversed(list(data.items()))), indent=2)
    assert read_signed(reordered).verify(signer.public_key)["image_name"] == "tag 1.png"


def test_another_key_is_named_in_the_error(signer, tmp_path):
    other = MessageSigner.from_key_file(tmp_path / "other.pem")
    signed = read_signed(other.sign(_result()))
    with pytest.raises(SignatureError, match=other.key_id):
        signed.verify(signer.public_key)
    forged = json.loads(other.sign(_result()))
    forged["key_id"] = signer.key_id  # claims the device's key id, signed with another key
    with pytest.raises(SignatureError, match="does not match"):
        read_signed(json.dumps(forged)).verify(signer.public_key)


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b"not json", InvalidRecordError),
        (b"[1, 2]", InvalidRecordError),
        (json.dumps({"kind": "status", "device_id": "cam-1"}).encode(), SignatureError),
        (json.dumps({"kind": "status", "signature": "AAAA"}).encode(), SignatureError),  # no key id
    ],
)
def test_unsigned_or_malformed_payloads_are_told_apart(payload, error):
    with pytest.raises(error) as raised:
        read_signed(payload)
    assert (raised.type is SignatureError) == (error is SignatureError)


def test_sign_payload_signs_what_the_outbox_stored(signer):
    stored = json.dumps({**DeviceStatus(device_id="cam-1").body(), "sequence": 3}, separators=(",", ":")).encode()
    fields = read_signed(signer.sign_payload(stored)).verify(signer.public_key)
    assert fields["sequence"] == 3 and fields["kind"] == "status"
    with pytest.raises(InvalidRecordError):
        signer.sign_payload(b"\x00 raw bytes")


def test_canonical_form_is_sorted_compact_ascii():
    assert canonical({"b": 1, "a": "é", "c": [1.5, None]}) == b'{"a":"\\u00e9","b":1,"c":[1.5,null]}'
    with pytest.raises(ValueError):
        canonical({"x": float("nan")})


def test_public_keys_travel_as_base64_of_32_bytes(signer):
    text = encode_public_key(signer.public_key)
    assert decode_public_key(text) == signer.public_key
    for bad in ("not base64!", encode_public_key(b"short")):
        with pytest.raises(InvalidRecordError):
            decode_public_key(bad)


def test_an_enrollment_proof_binds_the_token_to_one_device_and_one_key(signer, tmp_path):
    token, public = "tok-123", encode_public_key(signer.public_key)
    other = encode_public_key(MessageSigner.from_key_file(tmp_path / "x.pem").public_key)
    proof = enrollment_proof(token, "cam-1", public)
    digest = token_digest(token)
    assert proof_matches(digest, "cam-1", public, proof)
    assert not proof_matches(digest, "cam-2", public, proof)  # another device
    assert not proof_matches(digest, "cam-1", other, proof)  # another key
    assert not proof_matches(token_digest("tok-124"), "cam-1", public, proof)  # another token
    assert token not in proof and digest != token
