"""The labelling service's FastAPI app factory.

``create_app(settings)`` opens the service database, the image store and the
label store named by the settings (tests may pass ready ones), refuses the
development secret outside development, finishes approvals a crash left half
published, and wires the routes, the error handler and the security headers.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from qiloop import __version__
from qiloop.console import install_console
from qiloop.labeling.api import (
    routes_account,
    routes_admin,
    routes_docs,
    routes_login,
    routes_manage,
    routes_pages,
    routes_review,
    routes_uploads,
    routes_work,
)
from qiloop.labeling.api.config import WebOptions
from qiloop.labeling.api.errors import error_response, install_error_handlers
from qiloop.labeling.api.images import SharedImages
from qiloop.labeling.api.limits import install_body_limit
from qiloop.labeling.api.login_guard import install_proxy_headers
from qiloop.labeling.api.pages import environment, render_error
from qiloop.labeling.api.security import install_security_headers
from qiloop.labeling.db import Database
from qiloop.labeling.publish import publish_pending
from qiloop.labeling.web import STATIC
from qiloop.settings import Settings


def create_app(
    settings: Settings,
    options: WebOptions | None = None,
    *,
    db: Database | None = None,
    image_store=None,
    label_store=None,
    upload_store=None,
) -> FastAPI:
    """The labelling service's ASGI app.

    Args:
        settings: Where the database and stores live.
        options: Environment, secret key and cookie policy (default: read from ``QILOOP_*``).
        db, image_store, label_store: Ready collaborators; default: opened from ``settings``.
        upload_store: The image-store handle uploads use; default: a second handle on
            ``image_store``'s store, opened on the first upload (see ``labeling.api.images``).

    Raises:
        ConfigurationError: The development secret key outside development.

    Example:
        >>> app = create_app(load_settings())  # doctest: +SKIP
        >>> uvicorn.run(app, port=8080)  # doctest: +SKIP
    """
    options = (options or WebOptions()).check()
    if db is None:
        db = Database.from_settings(settings)
    if image_store is None:
        from qiloop.storage import ImageStore

        image_store = ImageStore.from_settings(settings)
    if label_store is None:
        from qiloop.labelstore import LabelStore

        label_store = LabelStore.from_settings(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        await run_in_threadpool(publish_pending, db, label_store)
        yield

    app = FastAPI(
        title="qiloop labelling",
        version=__version__,
        summary="Labelling jobs, tasks, verification and the workforce, for scripts and browsers.",
        lifespan=lifespan,
        docs_url=None,  # /docs and the schema are served behind the login by routes_docs
        redoc_url=None,
        openapi_url=None,
    )
    app.state.db, app.state.image_store, app.state.label_store = db, image_store, label_store
    app.state.images = SharedImages.of(image_store, settings, upload_store)
    app.state.options, app.state.templates = options, environment()
    app.state.settings = settings
    for module in (routes_login, routes_pages, routes_work, routes_review, routes_admin, routes_manage, routes_account):
        app.include_router(module.router)
    app.include_router(routes_uploads.router)
    app.include_router(routes_docs.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    install_console(app, settings)
    install_error_handlers(app, render_error)
    install_body_limit(app, options.max_upload_bytes, lambda req, exc: error_response(req, exc, render_error))
    install_security_headers(app, https=options.labeling_https)
    install_proxy_headers(app, options.labeling_forwarded_allow_ips)
    return app
