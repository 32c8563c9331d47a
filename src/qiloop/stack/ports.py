"""Ports of the stack: check that each is free before anything starts, and pick free ones on request."""

from __future__ import annotations

import errno
import socket
from collections.abc import Mapping

from qiloop.core.errors import ConfigurationError, StoreError


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on right now."""
    with socket.socket(_family(host)) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def is_free(host: str, port: int) -> bool:
    """Whether a server could listen on ``host:port`` now (with SO_REUSEADDR, as servers bind).

    Raises:
        StoreError: ``host`` is no address of this machine.
    """
    with socket.socket(_family(host)) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise StoreError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                hint="give --host an address of this machine (127.0.0.1, 0.0.0.0 or an interface's address)",
            ) from exc
    return True


def check_free(host: str, ports: Mapping[str, tuple[int, str]]) -> None:
    """Refuse to start when a part's port is taken, naming every taken port and the option that moves it.

    Args:
        host: The interface the parts listen on.
        ports: Part name → (port, the command-line option that sets it).

    Raises:
        ConfigurationError: Some port is taken (exit code 2) or two parts share one.
    """
    seen: dict[int, str] = {}
    for name, (port, option) in ports.items():
        if port in seen:
            raise ConfigurationError(
                f"{name} and {seen[port]} are both given port {port}", hint=f"choose another port with {option}"
            )
        seen[port] = name
    taken = [(name, port, option) for name, (port, option) in ports.items() if not is_free(host, port)]
    if taken:
        listing = ", ".join(f"{port} ({name})" for name, port, _ in taken)
        options = ", ".join(f"{option}" for _, _, option in taken)
        raise ConfigurationError(
            f"port(s) taken on {host}: {listing}; another program listens there "
            "(`qiloop status` tells whether it is a qiloop up on another home)",
            hint=f"stop that program, or choose other ports with {options}",
        )


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET
