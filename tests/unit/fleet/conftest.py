"""A device that builds the payloads its outbox would publish."""

from __future__ import annotations

import pytest

from device_messages import Device


@pytest.fixture
def device() -> Device:
    return Device()
