"""What earlier runs recorded: the latest materialisation's metadata of an asset, read from the instance.

Assets pass nothing through an I/O manager: each writes its results to a store
(image store, label store, registry, fleet) and records what the next step needs
(a label-store version, a run id) as metadata, which the next step reads here.
That works the same in one run, across runs, and on a Kubernetes pod per step.
"""

from __future__ import annotations

from typing import Any

import dagster as dg


def latest_timestamp(instance: dg.DagsterInstance, key: str) -> float | None:
    """When asset ``key`` was last materialised (epoch seconds), None when never."""
    event = instance.get_latest_materialization_event(dg.AssetKey(key))
    return None if event is None else float(event.timestamp)


def latest_metadata(instance: dg.DagsterInstance, key: str) -> dict[str, Any]:
    """The metadata of the latest materialisation of asset ``key`` as plain values ({} when never materialised)."""
    event = instance.get_latest_materialization_event(dg.AssetKey(key))
    materialization = None if event is None else event.asset_materialization
    if materialization is None:
        return {}
    return {name: getattr(value, "value", value) for name, value in materialization.metadata.items()}
