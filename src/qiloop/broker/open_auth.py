"""amqtt's authentication plug-in for the embedded broker: every client is let in, by name.

amqtt's own ``AnonymousAuthPlugin`` marks the clients it admits as anonymous,
and amqtt neither queues QoS 1 messages for an anonymous client while it is
offline nor keeps its session after a disconnect. A collector with a persistent
session (``clean_session=False``) would then lose everything the devices
publish while it restarts. This plug-in admits every client without that mark,
so persistent sessions behave as MQTT 3.1.1 says. The embedded broker has no
accounts: keep it on the loopback interface, or front it with a real broker.

Loaded by amqtt by its dotted path (see :func:`qiloop.broker.embedded.broker_config`).
"""

from __future__ import annotations

from dataclasses import dataclass

from amqtt.plugins.base import BaseAuthPlugin
from amqtt.session import Session


class OpenAuthPlugin(BaseAuthPlugin):
    """Admits every client as a known one, so its persistent session keeps messages while it is away."""

    @dataclass
    class Config:
        """No options: there is nothing to configure."""

    async def authenticate(self, *, session: Session) -> bool:
        return True
