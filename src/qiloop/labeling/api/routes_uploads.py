"""Image uploads: the admin's JSON route for scripts and the upload page with its result table.

Both take a multipart body: ``files`` (one or many), and optionally ``group``,
``job``, ``classes`` (comma-separated) and ``annotators``. The body is parsed
only after the caller is known to be an admin (the size limit in
:mod:`qiloop.labeling.api.limits` holds before that); the work is
:func:`qiloop.labeling.uploads.upload_images`.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from qiloop.core.errors import ConfigurationError
from qiloop.labeling import uploads
from qiloop.labeling.api.deps import Principal, admin
from qiloop.labeling.api.images import SharedImages
from qiloop.labeling.api.pages import render
from qiloop.labeling.uploads import UploadReport

router = APIRouter()


@router.post("/api/v1/admin/images", tags=["admin"], status_code=201)
async def upload_api(request: Request, who: Principal = Depends(admin)) -> JSONResponse:
    """Store uploaded images: 201 all new, 200 all already stored, 207 some refused, 422 all refused."""
    report = await _upload(request, who)
    return JSONResponse(report.to_json(), status_code=report.status)


@router.get("/admin/images", include_in_schema=False)
def upload_page(request: Request, who: Principal = Depends(admin)) -> Response:
    """The upload form."""
    return _page(request)


@router.post("/admin/images", include_in_schema=False)
async def upload_form(request: Request, who: Principal = Depends(admin)) -> Response:
    """Store the files from the form and show what became of each; a refused request shows why."""
    try:
        report = await _upload(request, who)
    except ConfigurationError as exc:
        return _page(request, error=exc.message, hint=exc.hint, status=400)
    return _page(request, report=report, status=report.status)


async def _upload(request: Request, who: Principal) -> UploadReport:
    form = await request.form()
    try:
        state = request.app.state
        spec = uploads.job_spec(_text(form, "job"), _text(form, "classes"), _annotators(form), state.settings.classes)
        files = [(f.filename or "", f.file) for f in form.getlist("files") if _chosen(f)]
        return await run_in_threadpool(
            _store_files,
            state.images,
            files,
            uploader=who.username,
            group=_text(form, "group"),
            job=spec,
            db=state.db,
            created_by=who.user_id,
        )
    finally:
        await form.close()


def _store_files(images: SharedImages, files: list, **options) -> UploadReport:
    with images.writing() as store:  # the upload handle: image reads do not wait on this
        return uploads.upload_images(store, files, **options)


def _page(request: Request, *, report: UploadReport | None = None, status: int = 200, **message) -> Response:
    state = request.app.state
    context = {"error": None, "hint": None} | message
    return render(
        request,
        "admin_images.html",
        status=status,
        report=report,
        classes=state.settings.classes,
        max_mib=state.options.labeling_max_upload_mib,
        **context,
    )


def _chosen(value: object) -> bool:
    """A file part (an empty one with no name is a form submitted without a file chosen)."""
    return isinstance(value, UploadFile) and bool(value.filename or value.size)


def _text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    if value is not None and not isinstance(value, str):
        raise ConfigurationError(f"the field {name!r} must be text, not a file", hint="send it as a plain form field")
    return value


def _annotators(form: FormData) -> int | None:
    text = (_text(form, "annotators") or "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise ConfigurationError(
            f"annotators must be a whole number, not {text[:20]!r}", hint="e.g. 3 annotators per image"
        ) from None
