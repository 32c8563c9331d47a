"""The labelling service under uvicorn (see :mod:`qiloop.httpserver`)."""

from __future__ import annotations

from functools import partial

from qiloop import httpserver

__all__ = ["BackgroundServer", "serve_forever"]

serve_forever = partial(httpserver.serve_forever, grace_s=10, backlog=1024)
BackgroundServer = partial(
    httpserver.BackgroundServer,
    what="the labelling service",
    thread_name="qiloop-labeling-http",
    grace_s=5,
    stop_timeout_s=15,
    backlog=1024,
)
