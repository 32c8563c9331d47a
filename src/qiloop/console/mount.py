"""Mount the console into the labelling service's app: its pages, its stylesheet, ``/metrics``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from qiloop.console import (
    routes_data,
    routes_fleet,
    routes_loop,
    routes_metrics,
    routes_models,
    routes_results,
)
from qiloop.console.data_view import Thumbnails
from qiloop.console.metrics import ConsoleMetrics
from qiloop.console.render import STATIC
from qiloop.console.sources import ConsoleSources
from qiloop.httpmetrics import MetricsMiddleware


@dataclass
class Console:
    """What the console's routes find on ``app.state.console``."""

    sources: ConsoleSources
    metrics: ConsoleMetrics
    thumbnails: Thumbnails
    model_name: str

    @property
    def templates(self):
        return self.sources.templates


def install_console(
    app: FastAPI,
    settings: Any,
    *,
    registry: Any = None,
    fleet_db: Any = None,
    results_db: Any = None,
    model_name: str | None = None,
) -> Console:
    """Add the console to ``app`` (the labelling service's, whose stores and accounts it shares).

    Args:
        app: The labelling app, with ``state.db``, ``state.image_store``, ``state.label_store`` set.
        settings: Where the registry and the fleet live.
        registry, fleet_db, results_db: Ready collaborators (default: opened from ``settings`` on first use).
        model_name: The registered model the Loop and Models pages follow (default: qiloop's default name).
    """
    from qiloop.registry import DEFAULT_MODEL_NAME

    sources = ConsoleSources(
        settings, image_store=app.state.image_store, label_store=app.state.label_store, db=app.state.db,
        registry=registry, fleet_db=fleet_db, results_db=results_db,
    )  # fmt: skip
    name = model_name or DEFAULT_MODEL_NAME
    console = Console(sources, ConsoleMetrics(sources, name), Thumbnails(), name)
    app.state.console = console
    for module in (routes_loop, routes_models, routes_fleet, routes_results, routes_data, routes_metrics):
        app.include_router(module.router)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
    app.add_middleware(MetricsMiddleware, metrics=console.metrics)
    return console
