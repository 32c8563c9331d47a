"""The console's pages: its own templates first, then the labelling service's (``base.html``, ``error.html``).

The console renders through the same page context as the labelling pages (the
caller, the session's CSRF token, the path), so its pages share the navigation,
the login and the content-security rules: no inline script or style, charts as
server-side SVG with presentation attributes only.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

from qiloop import __version__
from qiloop.labeling.web import TEMPLATES as LABELING_TEMPLATES

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


def environment() -> Environment:
    """Autoescaping templates: the console's folder, then the labelling service's."""
    loader = ChoiceLoader([FileSystemLoader(TEMPLATES), FileSystemLoader(LABELING_TEMPLATES)])
    env = Environment(loader=loader, autoescape=True, undefined=StrictUndefined)
    env.globals["version"] = __version__
    env.filters["ago"] = ago
    env.filters["when"] = when
    env.filters["num"] = num
    return env


def render(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
    """A console page for the caller, with the labelling pages' context (user, CSRF token, path)."""
    principal = getattr(request.state, "principal", None)
    page = request.app.state.console.templates.get_template(template).render(
        user=principal,
        csrf_token=principal.csrf_token if principal is not None and principal.csrf_token else "",
        path=request.url.path,
        **context,
    )
    return HTMLResponse(page, status_code=status)


def when(value: datetime | float | None) -> str:
    """A time as ``2026-12-03 12:40:05 UTC`` (epoch seconds or datetimes; ``—`` for none)."""
    if value is None:
        return "—"
    if not isinstance(value, datetime):
        value = datetime.fromtimestamp(float(value), tz=timezone.utc)
    value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def ago(value: datetime | float | None, now: float | None = None) -> str:
    """How long ago, in the largest whole unit (``42 s ago``, ``3 min ago``, ``2 h ago``, ``5 d ago``)."""
    if value is None:
        return "never"
    seconds = value.timestamp() if isinstance(value, datetime) else float(value)
    delta = max(0.0, (now if now is not None else datetime.now(timezone.utc).timestamp()) - seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if delta >= size:
            return f"{int(delta // size)} {unit} ago"
    return f"{int(delta)} s ago"


def num(value: float | int | None, digits: int = 3) -> str:
    """A figure for a table: ``—`` for none, integers as they are, floats to ``digits`` places."""
    if value is None:
        return "—"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"
