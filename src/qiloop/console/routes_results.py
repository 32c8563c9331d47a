"""The Results page: recent inspection results with their boxes, filtered by device, verdict, version and time."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from qiloop.console import results_view
from qiloop.console.render import render
from qiloop.labeling.api.deps import Principal, verifier

router = APIRouter(include_in_schema=False)


@router.get("/results")
async def results_page(
    request: Request,
    device: str = Query(default="", max_length=200),
    verdict: str = Query(default="", max_length=8),
    model_version: str = Query(default="", max_length=200),
    since: str = Query(default="", max_length=40),
    until: str = Query(default="", max_length=40),
    after: str = Query(default="", max_length=400),
    who: Principal = Depends(verifier),
) -> Response:
    """One page of results, newest first; each card draws the boxes over the image when the store holds it."""
    sources = request.app.state.console.sources
    wanted = results_view.ResultQuery.parse(device, verdict, model_version, since, until, after)
    results, fleet = sources.results(), sources.fleet()

    def load():
        if results is None:
            return [], "", []
        cards, following = results_view.results_page(results, sources.image_record, wanted)
        return cards, following, [d.device_id for d in fleet.devices()] if fleet is not None else []

    cards, following, devices = await run_in_threadpool(load)
    return render(
        request, "console_results.html", cards=cards, wanted=wanted, devices=devices, missing=results is None,
        older=("/results?" + urlencode(wanted.link(following))) if following else "",
        first=("/results?" + urlencode(wanted.link())) if wanted.after else "",
    )  # fmt: skip
