"""The device↔cloud contract: what devices and the fleet say to each other, and how they connect.

Both sides import this package; it imports only ``qiloop.core``, the standard library,
pydantic, paho-mqtt and cryptography, so it ships to devices with ``qiloop[edge]``.

- :mod:`~qiloop.protocol.topics`: the MQTT topics (one root, one definition).
- :mod:`~qiloop.protocol.messages`: results, statuses and feedback images.
- :mod:`~qiloop.protocol.reports`: deployment reports and the device's hello.
- :mod:`~qiloop.protocol.downloads`: where a device downloads components and files.
- :mod:`~qiloop.protocol.mqtt`: broker URLs and the one MQTT client factory (TLS-ready).
- :mod:`~qiloop.protocol.keys`: Ed25519 key files, key ids and signature checks.
- :mod:`~qiloop.protocol.signed`: device messages signed by the device's own key.
- :mod:`~qiloop.protocol.enrollment`: the proof of a one-time enrollment token in a device's hello.

The deployment documents themselves (:class:`~qiloop.core.deployments.Deployment` and its
signed envelope) are core records: the controller, the rollout logic and the nucleus share them.
"""
