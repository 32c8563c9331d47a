"""``qiloop labeling serve``: the labelling web UI and API over HTTP."""

from __future__ import annotations

from rich.text import Text

from qiloop.cli.common import HomeOption, ListenHostOption, ListenPortOption, console, settings_for


def serve(
    host: ListenHostOption = "127.0.0.1",
    port: ListenPortOption = 8080,
    home: HomeOption = None,
) -> None:
    """Serve the labelling web UI and API (uvicorn).

    Outside development set QILOOP_ENV and QILOOP_LABELING_SECRET_KEY; behind HTTPS set QILOOP_LABELING_HTTPS=1.
    Behind a reverse proxy set QILOOP_LABELING_FORWARDED_ALLOW_IPS to its address, or the login throttle counts
    every client as the proxy.
    """
    from qiloop.core.errors import require

    require("fastapi", "label")
    from qiloop.labeling.api.app import create_app
    from qiloop.labeling.api.server import serve_forever

    app = create_app(settings_for(home))
    console.print(
        Text.assemble("labelling service on ", (f"http://{host}:{port}", "bold"), " (Ctrl-C stops it)"), highlight=False
    )
    serve_forever(app, host=host, port=port)
