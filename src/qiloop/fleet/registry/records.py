"""What the fleet registry hands back: devices, their registered keys, devices waiting to be admitted."""

from __future__ import annotations

from dataclasses import dataclass

from qiloop.protocol.keys import decode_public_key


@dataclass(frozen=True)
class PendingDevice:
    """A device that said hello, signed by the key it presents, before any key was registered for it."""

    device_id: str
    public_key: str
    key_id: str
    seen_at: float


@dataclass(frozen=True)
class DeviceRow:
    """One device as the controller knows it (times are the controller's epoch seconds)."""

    device_id: str
    groups: list[str]
    public_key: str
    agent_version: str
    running: dict[str, str]
    hello_at: float | None
    report_state: str | None
    report_deployment: str | None
    report_detail: str | None
    report_at: float | None
    status_state: str | None
    status_at: float | None
    seen_at: float


@dataclass(frozen=True)
class DeviceKey:
    """The key registered for a device: base64 and raw, its id, and how it came (``token`` or ``admin``)."""

    device_id: str
    public_key: str
    key_id: str
    source: str
    added_at: float

    @property
    def raw(self) -> bytes:
        return decode_public_key(self.public_key)
