"""Broker URLs and the one way qiloop makes an MQTT client, on devices and in the cloud.

``mqtt://[user[:password]@]host[:port]`` (1883) or ``mqtts://…`` (TLS, 8883). TLS checks
the broker's certificate against the system's CAs, or against the CA file of
:class:`TlsFiles`; a client certificate and key in :class:`TlsFiles` make it mutual TLS
(what AWS IoT Core and brokers with ``require_certificate`` ask for). The URL itself may
name the files, ``mqtts://host:8883?ca=/etc/qiloop/tls/ca.pem&cert=…&key=…`` (as a
PostgreSQL URL names ``sslrootcert``), so one setting, or one ``--broker`` option, carries
the whole link to every process: agent, inference app, controller and collector.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import paho.mqtt.client as mqtt

from qiloop.core.errors import ConfigurationError


@dataclass(frozen=True)
class BrokerAddress:
    """Where the broker listens and how to log in, parsed from a URL."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None
    tls_files: TlsFiles | None = None  # from the URL's ?ca=&cert=&key=


TLS_QUERY = {"ca": "ca_file", "cert": "cert_file", "key": "key_file"}


def parse_broker_url(url: str) -> BrokerAddress:
    """Parse ``mqtt://[user[:password]@]host[:port]`` (1883) or ``mqtts://…`` (TLS, 8883).

    Raises:
        ConfigurationError: Not an MQTT URL, or a bad port.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ConfigurationError(f"not an MQTT broker URL: {url!r}", hint="write it like mqtt://127.0.0.1:1883")
    tls = parts.scheme == "mqtts"
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError as exc:
        raise ConfigurationError(f"bad port in broker URL {url!r}") from exc
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return BrokerAddress(parts.hostname, port, tls, user, password, _tls_files(url, parts.query, tls))


def _tls_files(url: str, query: str, tls: bool) -> TlsFiles | None:
    """The TLS files a broker URL's query names (``ca``, ``cert``, ``key``), or None."""
    if not query:
        return None
    items = parse_qsl(query, keep_blank_values=True, strict_parsing=False)
    unknown = sorted({key for key, _ in items} - set(TLS_QUERY))
    if unknown:
        raise ConfigurationError(
            f"unknown setting {unknown[0]!r} in the broker URL {url!r}",
            hint="a broker URL's query names TLS files only: ?ca=CA.pem&cert=CLIENT.pem&key=CLIENT.key",
        )
    if not tls:
        raise ConfigurationError(
            f"TLS files given for the plain broker URL {url!r}", hint="write mqtts://HOST:PORT to use TLS"
        )
    return TlsFiles(**{TLS_QUERY[key]: Path(value) for key, value in items if value})


@dataclass(frozen=True)
class TlsFiles:
    """The files of a TLS link: the CA to check the broker against, and this client's certificate and key.

    Attributes:
        ca_file: PEM file of the CA(s) that signed the broker's certificate (default: the system's CAs).
        cert_file: PEM file of this client's certificate (mutual TLS); its key in ``key_file`` or in the same file.
        key_file: PEM file of the client certificate's private key.
    """

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    def context(self) -> ssl.SSLContext:
        """An SSL context for a client: the broker's certificate checked, our certificate presented if given.

        Raises:
            ConfigurationError: A file is missing or holds no usable certificate or key.
        """
        if self.key_file is not None and self.cert_file is None:
            raise ConfigurationError("a client key without a client certificate", hint="give the certificate too")
        try:
            context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
            if self.cert_file is not None:
                context.load_cert_chain(str(self.cert_file), str(self.key_file) if self.key_file else None)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationError(
                f"cannot load the TLS files ({exc})", hint="check the CA, certificate and key paths (PEM files)"
            ) from exc
        return context


def mqtt_client(
    url: str,
    client_id: str,
    *,
    clean_session: bool = True,
    tls: TlsFiles | ssl.SSLContext | None = None,
    username: str | None = None,
    password: str | None = None,
    keepalive: int = 30,
    reconnect_s: tuple[float, float] | None = (0.2, 10.0),
    max_inflight: int | None = None,
) -> mqtt.Client:
    """A paho client (callback API 2) that knows its broker: ``connect_async`` is called, nothing is sent yet.

    Start it with ``loop_start()`` (paho connects and reconnects on its own, waiting ``reconnect_s``
    = (first, largest) seconds between tries) or connect at once with ``reconnect()``.

    Args:
        url: ``mqtt://`` or ``mqtts://`` broker URL; credentials in it win over ``username``/``password``.
        client_id: The client's id (keep it stable where the broker keeps a session for it).
        clean_session: False to have the broker keep subscriptions and QoS 1 messages while away.
        tls: TLS files (or a ready context) for an ``mqtts://`` URL; default: the files the URL names,
            else the system's CAs.
        max_inflight: Most QoS 1 messages sent and not yet acknowledged (paho's default: 20); paho
            takes it only before the client connects.

    Raises:
        ConfigurationError: A bad URL, TLS settings with a plain ``mqtt://`` URL, or unusable TLS files.
    """
    address = parse_broker_url(url)
    if tls is not None and not address.tls:
        raise ConfigurationError(
            f"TLS settings given for the plain broker URL {url!r}", hint="write mqtts://HOST:PORT to use TLS"
        )
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean_session)
    user = address.username or username
    if user:
        client.username_pw_set(user, address.password or password)
    if address.tls:
        context = tls if isinstance(tls, ssl.SSLContext) else (tls or address.tls_files or TlsFiles()).context()
        client.tls_set_context(context)
    if max_inflight is not None:
        client.max_inflight_messages_set(max_inflight)
    if reconnect_s is not None:
        client.reconnect_delay_set(*reconnect_s)  # type: ignore[arg-type]  # paho takes fractions of a second too
    client.connect_async(address.host, address.port, keepalive)
    return client
