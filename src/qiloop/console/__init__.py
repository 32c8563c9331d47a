"""qiloop's web console: the whole loop on top of the labelling service's accounts, sessions and rules.

Pages (server-rendered, SVG charts drawn on the server, no script needed):

- ``/loop``: the loop as a picture with live counts at each stage, what runs now,
  links to Dagster and MLflow where they run;
- ``/models``: versions over time (mAP50, recall at the operating point), the gate's
  figures, lineage, approve / reject for admins (the CLI's audited approval);
- ``/fleet``: devices online or not, versions, last deployment, rollouts with each
  device's state; ``/fleet/devices/<id>``: charts of its status reports;
- ``/results``: recent inspection results with their boxes, filtered;
- ``/data``: a thumbnail browser of the image store with label status and history;
- ``/metrics``: Prometheus metrics of the console and the fleet.

Viewing needs the verifier role (admins too); deciding on models needs admin.
``install_console(app, settings)`` mounts it into the labelling app.
"""

from __future__ import annotations

from typing import Any


def install_console(app: Any, settings: Any, **options: Any) -> Any:
    """Mount the console into the labelling app (see :func:`qiloop.console.mount.install_console`)."""
    from qiloop.console.mount import install_console as install

    return install(app, settings, **options)
