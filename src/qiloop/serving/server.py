"""The endpoint under uvicorn (see :mod:`qiloop.httpserver`): 30 s for requests in flight on Ctrl-C."""

from __future__ import annotations

from functools import partial

from qiloop import httpserver
from qiloop.httpserver import BackgroundServer, bind

__all__ = ["BackgroundServer", "bind", "serve_forever"]

serve_forever = partial(httpserver.serve_forever, grace_s=30)
