"""The Loop page: the loop as a picture with live counts at each stage, and what runs now."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from qiloop.console import loop_picture
from qiloop.console.loop_state import loop_state
from qiloop.console.render import render
from qiloop.labeling.api.deps import Principal, verifier

router = APIRouter(include_in_schema=False)


@router.get("/console")
def console_home(who: Principal = Depends(verifier)) -> Response:
    """The console starts at the Loop page."""
    return RedirectResponse("/loop", status_code=303)


@router.get("/loop")
async def loop_page(request: Request, who: Principal = Depends(verifier)) -> Response:
    """Counts at each stage of the loop, what is running, and links to Dagster and MLflow where they run."""
    console = request.app.state.console
    state = await run_in_threadpool(loop_state, console.sources, console.model_name)
    return render(
        request,
        "console_loop.html",
        state=state,
        stages=loop_picture.stages(state),
        arrows=loop_picture.arrows(),
        box=(loop_picture.BOX_W, loop_picture.BOX_H),
        size=(loop_picture.WIDTH, loop_picture.HEIGHT),
        links=console.sources.links(),
    )
