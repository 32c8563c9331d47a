"""Which address a server is reached at: from this machine, and from the devices on the network.

A server bound to a wildcard (``0.0.0.0``, ``::``) listens on every interface, but that is
no address a client can dial. :func:`local_host` is what a client in this process or on
this machine uses; :func:`reachable_host` is what to print for devices elsewhere: the
address of the interface that routes outwards, else the machine's name.
"""

from __future__ import annotations

import socket

WILDCARDS = frozenset({"", "0.0.0.0", "::", "[::]"})
LOOPBACKS = frozenset({"127.0.0.1", "localhost", "::1"})


def is_loopback(host: str) -> bool:
    """True when only this machine can reach a server bound to ``host``.

    Example:
        >>> is_loopback("127.0.0.1"), is_loopback("0.0.0.0")
        (True, False)
    """
    return host in LOOPBACKS or host.startswith("127.")


def local_host(host: str) -> str:
    """The address a client on this machine dials for a server bound to ``host``.

    Example:
        >>> local_host("0.0.0.0"), local_host("10.0.0.5")
        ('127.0.0.1', '10.0.0.5')
    """
    return "127.0.0.1" if host in WILDCARDS else host


def reachable_host(host: str) -> str:
    """The address devices on the network should dial for a server bound to ``host``.

    A wildcard becomes this machine's outward address (no packet is sent to find it),
    else its host name; any other host is returned as it is.
    """
    if host not in WILDCARDS:
        return host
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: a UDP connect only picks the route
            address = probe.getsockname()[0]
    except OSError:
        address = ""
    return address if address and not is_loopback(address) and address not in WILDCARDS else socket.gethostname()
