"""Rendering server-side pages: one autoescaping Jinja2 environment, the page context, the error page."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from qiloop import __version__
from qiloop.labeling.web import TEMPLATES


def environment() -> Environment:
    """Templates with autoescape on for every file (so ``{{ text }}`` is always HTML-escaped)."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined)
    env.globals["version"] = __version__
    return env


def render(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
    """A page for the caller (``request.state.principal``, when authenticated) with ``context``."""
    principal = getattr(request.state, "principal", None)
    page = request.app.state.templates.get_template(template).render(
        user=principal,
        csrf_token=principal.csrf_token if principal is not None and principal.csrf_token else "",
        path=request.url.path,
        **context,
    )
    return HTMLResponse(page, status_code=status)


def render_error(request: Request, status: int, title: str, message: str, hint: str | None) -> HTMLResponse:
    """The error page: what went wrong and what to do, escaped like every other text."""
    return render(request, "error.html", status=status, status_code=status, title=title, message=message, hint=hint)
