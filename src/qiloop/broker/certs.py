"""A small certificate authority for mutual TLS between the broker, the cloud services and the devices.

Mosquitto with ``require_certificate true`` and ``use_identity_as_username true`` admits
only clients whose certificate this CA signed, and takes the certificate's common name
as the account the ACL (:mod:`qiloop.broker.acl`) confines: a device's certificate
carries its device id. The same CA signs the broker's server certificate (with the host
names devices dial) and may sign the controller's file server certificate.

Keys are ECDSA P-256 (small, fast on a device, accepted by Mosquitto, OpenSSL and AWS
IoT Core). The CA key stays where it was made (the controller's home), never on a device.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from qiloop.core.errors import ConfigurationError, require

DAYS = 825  # the longest validity Apple and browsers accept for a server certificate


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key, both PEM."""

    cert_pem: bytes
    key_pem: bytes

    def write(self, folder: str | Path, name: str) -> tuple[Path, Path]:
        """Write ``<name>.pem`` and ``<name>.key`` (the key readable by its owner only)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        cert, key = folder / f"{name}.pem", folder / f"{name}.key"
        cert.write_bytes(self.cert_pem)
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(self.key_pem)
        return cert, key


def _x509():
    require("cryptography", "edge")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    return x509, hashes, serialization, ec, ExtendedKeyUsageOID, NameOID


def new_ca(common_name: str = "qiloop fleet CA", *, days: int = 3650) -> Issued:
    """A self-signed CA certificate and key."""
    x509, hashes, serialization, ec, _, NameOID = _x509()
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.timezone.utc)
    usage = x509.KeyUsage(
        digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, encipher_only=False, decipher_only=False,
    )  # fmt: skip
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    return Issued(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def issue(ca: Issued, common_name: str, *, hosts: list[str] | None = None, days: int = DAYS) -> Issued:
    """A certificate for ``common_name`` signed by ``ca``.

    With ``hosts`` it is a server certificate for those DNS names and IP addresses
    (the broker, the file server); without, a client certificate whose common name is
    the broker account (a device id, or a cloud service's account).
    """
    x509, hashes, serialization, ec, EKU, NameOID = _x509()
    if not common_name or "/" in common_name or "+" in common_name or "#" in common_name:
        raise ConfigurationError(f"{common_name!r} cannot name a certificate", hint="use a device id or account name")
    ca_key = serialization.load_pem_private_key(ca.key_pem, password=None)
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    builder = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )  # fmt: skip
    if hosts:
        names = [_general_name(x509, host) for host in hosts]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        builder = builder.add_extension(x509.ExtendedKeyUsage([EKU.SERVER_AUTH, EKU.CLIENT_AUTH]), critical=False)
    else:
        builder = builder.add_extension(x509.ExtendedKeyUsage([EKU.CLIENT_AUTH]), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    return Issued(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def load_or_create_ca(folder: str | Path) -> Issued:
    """The CA kept in ``folder`` (``ca.pem``, ``ca.key``), created there on first use."""
    folder = Path(folder)
    cert, key = folder / "ca.pem", folder / "ca.key"
    if cert.is_file() and key.is_file():
        return Issued(cert.read_bytes(), key.read_bytes())
    if cert.exists() or key.exists():
        raise ConfigurationError(f"{folder} holds only half of a CA (ca.pem and ca.key go together)",
                                 hint="restore the missing file, or give another --ca-dir")  # fmt: skip
    ca = new_ca()
    ca.write(folder, "ca")
    return ca


def _general_name(x509, host: str):
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _key_pem(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


__all__ = ["Issued", "issue", "load_or_create_ca", "new_ca"]
