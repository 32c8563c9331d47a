"""The verifier's API: the review queue (lowest agreement first), approve, adjust, reject."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from qiloop.labeling import verification
from qiloop.labeling.api.deps import Principal, verifier
from qiloop.labeling.api.display import file_name
from qiloop.labeling.api.params import RowId
from qiloop.labeling.api.schemas import ApproveIn, RejectIn, ReviewOut
from qiloop.labeling.jobs import get_job

router = APIRouter(prefix="/api/v1", tags=["verification"])


@router.get("/jobs/{job}/review", response_model=list[ReviewOut])
def review_queue(job: str, request: Request, limit: int = 50, who: Principal = Depends(verifier)) -> list[ReviewOut]:
    """Images of ``job`` waiting for a verifier, lowest agreement first, with each annotator's boxes.

    ``near_duplicates`` names consolidated boxes that look like one defect drawn twice: check them before approving.
    """
    db = request.app.state.db
    with db.session() as session:
        classes = list(get_job(session, job).classes)
    items = verification.review_queue(db, job, limit=max(1, min(limit, 500)))
    images = request.app.state.image_store
    return [ReviewOut.of(item, classes, name=file_name(images, item.image_sha256)) for item in items]


@router.post("/items/{item_id}/approve")
def approve(item_id: RowId, body: ApproveIn, request: Request, who: Principal = Depends(verifier)) -> dict:
    """Approve the consolidated boxes, or the adjusted ``boxes``, into the label store."""
    state = request.app.state
    record = verification.approve(state.db, state.label_store, item_id, who.username, boxes=body.boxes)
    return {"item_id": item_id, "record_id": record.record_id, "boxes": len(record.annotations)}


@router.post("/items/{item_id}/reject")
def reject(item_id: RowId, body: RejectIn, request: Request, who: Principal = Depends(verifier)) -> dict:
    """Reject with a reason: the image goes back to the queue for a new round."""
    verification.reject(request.app.state.db, item_id, who.username, body.reason)
    return {"item_id": item_id, "rejected": True}
