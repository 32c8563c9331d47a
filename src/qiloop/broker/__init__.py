"""The MQTT broker the fleet talks through: a configured one, or one embedded in the process.

``broker_url(settings)`` is what entry points call: the configured
``mqtt_url`` when there is one, otherwise a freshly started
:class:`EmbeddedBroker` (which the caller stops).
"""

from __future__ import annotations

from qiloop.broker.embedded import EmbeddedBroker, free_port
from qiloop.settings import Settings

__all__ = ["EmbeddedBroker", "broker_url", "free_port"]


def broker_url(settings: Settings) -> tuple[str, EmbeddedBroker | None]:
    """The broker to use: ``(settings.mqtt_url, None)`` when set, else an embedded broker's URL and the broker.

    Example:
        >>> url, embedded = broker_url(load_settings())  # doctest: +SKIP
        >>> try:
        ...     run_the_loop(url)
        ... finally:
        ...     if embedded is not None:
        ...         embedded.stop()
    """
    if settings.mqtt_url:
        return settings.mqtt_url, None
    broker = EmbeddedBroker().start()
    return broker.url, broker
