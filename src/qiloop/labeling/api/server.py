"""The labelling service under uvicorn (see :mod:`qiloop.httpserver`).

uvicorn's own ``X-Forwarded-*`` handling is off: it would believe any client on
this machine. The app believes the proxies its options name instead (see
``labeling.api.config``).
"""

from __future__ import annotations

from functools import partial

from qiloop import httpserver

__all__ = ["BackgroundServer", "serve_forever"]

serve_forever = partial(httpserver.serve_forever, grace_s=10, backlog=1024, proxy_headers=False)
BackgroundServer = partial(
    httpserver.BackgroundServer,
    what="the labelling service",
    thread_name="qiloop-labeling-http",
    grace_s=5,
    stop_timeout_s=15,
    backlog=1024,
    proxy_headers=False,
)
