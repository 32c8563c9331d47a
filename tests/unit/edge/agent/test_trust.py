"""Signed deployments: what a device accepts and every way it refuses."""

from __future__ import annotations

import base64
import json
import stat

import pytest

from qiloop.core.components import Component, ComponentFile
from qiloop.core.deployments import ComponentRef, Deployment, SignedDeployment, Target
from qiloop.core.errors import InvalidRecordError
from qiloop.edge.agent.trust import TrustStore
from qiloop.fleet.signing import PRIVATE_FILE, PUBLIC_FILE, FileSigner, sign_deployment
from qiloop.protocol.keys import SignatureError, decode_public_key, key_id


def _deployment() -> Deployment:
    model = Component(
        name="scratch-model",
        version="3",
        kind="model",
        files=[ComponentFile(name="model.onnx", sha256="b" * 64, size=5)],
    )
    ref = ComponentRef(name=model.name, version=model.version, digest=model.digest)
    return Deployment(sequence=1, target=Target(kind="device", name="cam-1"), components=[ref])


@pytest.fixture
def signer(tmp_path):
    return FileSigner.load_or_create(tmp_path / "keys")


@pytest.fixture
def trust(tmp_path, signer):
    TrustStore.add(tmp_path / "trusted", signer.public_key)
    return TrustStore.load(tmp_path / "trusted")


def test_a_trusted_signature_verifies_and_yields_the_document(signer, trust):
    d = _deployment()
    envelope = sign_deployment(d, signer)
    assert trust.verify(envelope) == d
    assert trust.verify(envelope.model_dump_json()) == d  # from the wire, as text


def test_the_key_persists_with_private_file_permissions(tmp_path, signer):
    again = FileSigner.load_or_create(tmp_path / "keys")
    assert again.key_id == signer.key_id
    mode = stat.S_IMODE((tmp_path / "keys" / PRIVATE_FILE).stat().st_mode)
    assert mode == 0o600
    assert decode_public_key((tmp_path / "keys" / PUBLIC_FILE).read_text()) == signer.public_key


@pytest.mark.parametrize("where", [0, "middle", -2])
def test_a_flipped_byte_in_the_document_is_refused(signer, trust, where):
    envelope = sign_deployment(_deployment(), signer)
    doc = bytearray(envelope.document.encode())
    i = len(doc) // 2 if where == "middle" else where
    doc[i] = ord("x") if doc[i] != ord("x") else ord("y")
    tampered = envelope.model_copy(update={"document": doc.decode()})
    with pytest.raises(SignatureError, match="does not match"):
        trust.verify(tampered)


def test_unknown_key_unsigned_and_garbage_are_refused(tmp_path, signer, trust):
    stranger = FileSigner.load_or_create(tmp_path / "other")
    with pytest.raises(SignatureError, match="unknown key"):
        trust.verify(sign_deployment(_deployment(), stranger))
    with pytest.raises(SignatureError, match="unsigned or malformed"):
        trust.verify(_deployment().model_dump_json())
    envelope = sign_deployment(_deployment(), signer)
    with pytest.raises(SignatureError):
        trust.verify(envelope.model_copy(update={"signature": "%%%"}))
    other_sig = sign_deployment(_deployment().model_copy(update={"sequence": 2}), signer).signature
    with pytest.raises(SignatureError, match="does not match"):
        trust.verify(envelope.model_copy(update={"signature": other_sig}))


def test_an_empty_trust_store_trusts_nobody(tmp_path, signer):
    with pytest.raises(SignatureError, match="unknown key"):
        TrustStore.load(tmp_path / "absent").verify(sign_deployment(_deployment(), signer))


def test_key_files_are_checked(tmp_path):
    with pytest.raises(InvalidRecordError, match="32 bytes"):
        decode_public_key(base64.b64encode(b"short").decode())
    with pytest.raises(InvalidRecordError, match="does not match its own bytes"):
        TrustStore({"0" * 16: b"k" * 32})
    assert key_id(b"k" * 32) == TrustStore({key_id(b"k" * 32): b"k" * 32}).keys.popitem()[0]


def test_the_envelope_is_plain_json(signer):
    wire = json.loads(sign_deployment(_deployment(), signer).model_dump_json())
    assert set(wire) == {"document", "key_id", "algorithm", "signature"} and wire["algorithm"] == "ed25519"
    assert SignedDeployment.model_validate(wire).deployment().sequence == 1
