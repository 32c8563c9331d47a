"""What the admin pages and API show: jobs with progress, workers with accuracy and agreement, accounts."""

from __future__ import annotations

from sqlalchemy.orm import Session

from qiloop.labeling import jobs as job_service
from qiloop.labeling import workforce
from qiloop.labeling.api import access
from qiloop.labeling.jobs import JobSummary
from qiloop.labeling.workforce import UserInfo


def jobs(session: Session) -> list[dict]:
    """Every job, newest first, with images by state and the share approved."""
    return [job_json(s) for s in job_service.list_jobs(session)]


def job_json(s: JobSummary) -> dict:
    """A job's progress as the API and the admin pages show it."""
    return {
        "name": s.name,
        "state": s.state,
        "classes": list(s.classes),
        "annotators_per_image": s.annotators_per_image,
        "images": s.images,
        "labeling": s.labeling,
        "verifying": s.verifying,
        "approved": s.approved,
        "progress": 0.0 if s.images == 0 else s.approved / s.images,
        "created_at": s.created_at.isoformat(),
    }


def workers(session: Session) -> list[dict]:
    """Every account's gold record (mean F1, reliability, flag) and agreement with consolidated boxes."""
    scores = workforce.accuracy(session)
    agreement = access.consensus_agreement(session)
    out = []
    for user in workforce.list_users(session):
        acc = scores[user.username]
        images, mean = agreement.get(user.username, (0, None))
        out.append(
            {
                "username": user.username,
                "role": user.role,
                "disabled": user.disabled,
                "gold_items": acc.gold_items,
                "gold_f1": acc.mean_f1,
                "reliability": acc.reliability,
                "flagged": acc.flagged,
                "consolidated_images": images,
                "consensus_f1": mean,
            }
        )
    return out


def user_json(user: UserInfo) -> dict:
    """An account as the API shows it."""
    return {
        "id": user.id,
        "username": user.username,
        "role": user.role,
        "disabled": user.disabled,
        "created_at": user.created_at.isoformat(),
    }
