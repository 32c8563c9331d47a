"""The one MQTT client factory: broker URLs, credentials, TLS files (checked by a real TLS handshake set-up)."""

import datetime
import ssl

import paho.mqtt.client as mqtt
import pytest

from qiloop.core.errors import ConfigurationError
from qiloop.protocol.mqtt import TlsFiles, mqtt_client, parse_broker_url


def test_a_client_knows_its_broker_and_credentials_before_it_connects():
    client = mqtt_client("mqtt://ann:s%40cret@broker.local:1999", "cam-1", clean_session=False)
    assert isinstance(client, mqtt.Client)
    assert (client.host, client.port, client._client_id) == ("broker.local", 1999, b"cam-1")
    assert (client.username, client.password) == ("ann", "s@cret")
    assert client._clean_session is False


def test_the_inflight_window_is_set_before_the_client_connects():
    client = mqtt_client("mqtt://127.0.0.1", "c", max_inflight=7)  # paho refuses it once connect_async ran
    assert client.max_inflight_messages == 7


def test_arguments_give_credentials_the_url_lacks():
    client = mqtt_client("mqtt://127.0.0.1", "c", username="bob", password="pw")
    assert (client.username, client.password, client.port) == ("bob", "pw", 1883)


def test_tls_settings_need_an_mqtts_url():
    with pytest.raises(ConfigurationError, match="mqtts://"):
        mqtt_client("mqtt://127.0.0.1:1883", "c", tls=TlsFiles())


def test_an_mqtts_url_uses_the_system_cas_by_default():
    client = mqtt_client("mqtts://broker.local", "c")
    assert client.port == 8883 and client._ssl_context is not None
    assert client._ssl_context.verify_mode == ssl.CERT_REQUIRED


def _certificate(tmp_path, name: str):
    """A self-signed certificate and its key, as PEM files (the CA and a client certificate at once)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + datetime.timedelta(1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_file, key_file = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


def test_tls_files_give_a_context_with_the_ca_and_the_client_certificate(tmp_path):
    cert, key = _certificate(tmp_path, "device-1")
    context = TlsFiles(ca_file=cert, cert_file=cert, key_file=key).context()
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "device-1"),),)]
    client = mqtt_client("mqtts://broker.local:8883", "c", tls=TlsFiles(ca_file=cert, cert_file=cert, key_file=key))
    assert client._ssl_context is not None and client._ssl_context.get_ca_certs() == context.get_ca_certs()


@pytest.mark.parametrize("broken", ["missing ca", "key without certificate", "key of another certificate"])
def test_unusable_tls_files_are_a_clear_error(tmp_path, broken):
    cert, key = _certificate(tmp_path, "a")
    _, other_key = _certificate(tmp_path, "b")
    files = {
        "missing ca": TlsFiles(ca_file=tmp_path / "nope.crt"),
        "key without certificate": TlsFiles(key_file=key),
        "key of another certificate": TlsFiles(cert_file=cert, key_file=other_key),
    }[broken]
    with pytest.raises(ConfigurationError):
        files.context()


@pytest.mark.parametrize("url", ["http://127.0.0.1", "mqtt://", "mqtt://host:notaport", "127.0.0.1:1883"])
def test_bad_broker_urls_are_refused(url):
    with pytest.raises(ConfigurationError):
        parse_broker_url(url)
