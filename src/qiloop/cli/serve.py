"""``qiloop serve``: the HTTP inference endpoint for a model package or a registry reference.

FastAPI, uvicorn and ONNX Runtime load inside the command, so importing the
CLI stays light.
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.text import Text

from qiloop.cli.common import HomeOption, ListenHostOption, ListenPortOption, console, err_console, settings_for


def serve(
    model: Annotated[
        str,
        typer.Option(
            "--model",
            help="A model package folder, or a registry reference: NAME@production (default alias), NAME/3.",
        ),
    ],
    host: ListenHostOption = "127.0.0.1",
    port: ListenPortOption = 8000,
    workers_threads: Annotated[
        int | None,
        typer.Option(
            "--workers-threads", help="Inference threads, one ONNX session each (default: one per core).", min=1
        ),
    ] = None,
    poll_s: Annotated[
        float, typer.Option("--poll-s", help="Seconds between registry checks for a new version (0: never).", min=0)
    ] = 10.0,
    int8: Annotated[bool, typer.Option("--int8", help="Serve the package's INT8 model.")] = False,
    max_image_mb: Annotated[
        float, typer.Option("--max-image-mb", help="Refuse uploads larger than this (413).", min=0.001)
    ] = 20.0,
    max_image_mpx: Annotated[
        float,
        typer.Option("--max-image-mpx", help="Refuse images of more megapixels (413, read from the header).", min=0.01),
    ] = 16.0,
    max_large: Annotated[
        int | None,
        typer.Option(
            "--max-large",
            help="Images over 4 Mpx processed at once (default: half the workers); more get 503 + Retry-After.",
            min=1,
            show_default=False,
        ),
    ] = None,
    wait_for_model: Annotated[
        bool,
        typer.Option(
            "--wait-for-model",
            help="With a registry reference that names no model yet, start anyway and load it once it does.",
        ),
    ] = False,
    home: HomeOption = None,
) -> None:
    """Serve detections over HTTP: POST /v1/detect, /v1/detect/batch; GET /healthz, /metrics, /v1/model.

    With a registry reference the server follows it: when the alias moves to a
    newly approved version, that version is downloaded, loaded and test-inferred,
    then swapped in without dropping requests; a version that fails to load leaves
    the old one serving. When the first model cannot be loaded the command fails
    at once (exit 5 for an unknown model or alias), unless --wait-for-model.
    Stop with Ctrl-C.
    """
    from rich.logging import RichHandler

    from qiloop.core.errors import NotFoundError
    from qiloop.serving import ModelHolder, RegistrySource, ServeOptions, open_source
    from qiloop.serving.app import create_app
    from qiloop.serving.server import serve_forever

    settings = settings_for(home)
    logger = logging.getLogger("qiloop")
    logger.setLevel(logging.INFO)
    logger.addHandler(RichHandler(console=err_console, show_path=False))
    options = ServeOptions(
        worker_threads=workers_threads,
        int8=int8,
        poll_s=poll_s,
        max_image_bytes=int(max_image_mb * (1 << 20)),
        max_image_pixels=min(int(max_image_mpx * 1e6), settings.max_image_pixels),
        max_large_images=max_large,
    )
    source = open_source(model, settings)
    holder = ModelHolder.for_options(source, options)
    try:
        holder.refresh()
    except NotFoundError as exc:
        if not (wait_for_model and isinstance(source, RegistrySource) and poll_s > 0):
            hints = [exc.hint] if exc.hint else []
            if isinstance(source, RegistrySource) and poll_s > 0:
                hints.append("or pass --wait-for-model to start now and serve it once it is approved")
            raise NotFoundError(f"cannot serve {model}: {exc.message}", hint="; ".join(hints) or None) from exc
        err_console.print(
            Text.assemble(("no model to serve yet:", "yellow"), f" {exc.message}; checking every {poll_s:g} s"),
            highlight=False,
        )
    current = holder.current
    what = f"{current.name} v{current.version} ({current.detectors[0].model_file})" if current else "no model yet"
    console.print(
        f"serving {what} on http://{host}:{port} with {options.workers} worker(s) x "
        f"{options.threads_per_session} thread(s)",
        highlight=False,
    )
    serve_forever(create_app(holder, options), host=host, port=port)
