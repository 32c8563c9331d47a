"""The Data pages: thumbnails of the image store with label status, one image with its label history; image bytes."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from qiloop.console import data_view
from qiloop.console.render import render
from qiloop.core.errors import NotFoundError
from qiloop.labeling.api.deps import Principal, verifier
from qiloop.labeling.api.display import for_browser

router = APIRouter(include_in_schema=False)
_IMMUTABLE = {"Cache-Control": "private, max-age=86400, immutable"}  # content-addressed: never changes


@router.get("/data")
async def data_page(
    request: Request,
    status: str = Query(default="", max_length=32),
    source: str = Query(default="", max_length=200),
    page: int = Query(default=0, ge=0, le=1_000_000),
    who: Principal = Depends(verifier),
) -> Response:
    """A page of thumbnails, newest first, filtered by label status and source."""
    sources = request.app.state.console.sources

    def load():
        return data_view.browse(sources.browse_frame(), status, source, page * data_view.PAGE)

    tiles, total = await run_in_threadpool(load)
    pages = max(1, -(-total // data_view.PAGE))
    return render(
        request, "console_data.html", tiles=tiles, total=total, page=page, pages=pages, chosen=status.upper(),
        source=source, statuses=data_view.STATUSES,
    )  # fmt: skip


@router.get("/data/{sha256}")
def image_page(sha256: str, request: Request, who: Principal = Depends(verifier)) -> Response:
    """One image: its record, its label history (every record, oldest first) and why devices sent it back."""
    sources = request.app.state.console.sources
    record = sources.image_record(sha256)
    if record is None:
        raise NotFoundError(f"no image {sha256[:16]!r} in the store", hint="the Data page lists the stored images")
    history = sources.labels.history(sha256)
    feedback = sources.feedback_for(sha256)
    return render(request, "console_image.html", record=record, history=history, feedback=feedback)


@router.get("/console/images/{sha256}")
def image_bytes(sha256: str, request: Request, who: Principal = Depends(verifier)) -> Response:
    """A stored image as a browser shows it (TIFF as PNG)."""
    record, data = request.app.state.images.read(sha256)
    body, media_type = for_browser(data, record.format)
    return Response(body, media_type=media_type, headers=_IMMUTABLE)


@router.get("/console/images/{sha256}/thumb")
def thumbnail(sha256: str, request: Request, who: Principal = Depends(verifier)) -> Response:
    """A small JPEG preview of a stored image."""
    thumb = request.app.state.console.thumbnails.get(sha256, request.app.state.images.read)
    return Response(thumb, media_type="image/jpeg", headers=_IMMUTABLE)
