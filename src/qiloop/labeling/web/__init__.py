"""The labelling web UI: Jinja2 templates (autoescaped) and plain JavaScript for the canvas, no build step."""

from __future__ import annotations

from pathlib import Path

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
