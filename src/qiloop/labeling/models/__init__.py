"""The labelling service's tables: workforce, jobs, tasks, annotations, gold items, results, decisions, login failures.

Boxes are stored as JSON lists of ``Box`` fields (see ``labeling.boxes``); every
time is UTC. The tables live in three modules (workforce, work, review) and are
all importable from here. A change to any of them needs a migration in
``labeling/migrations/versions`` (see ``labeling.migrate``); a test compares the
migrated schema with these models.
"""

from qiloop.labeling.models.review import ConsolidatedResult, Decision, VerificationDecision
from qiloop.labeling.models.work import (
    Annotation,
    GoldItem,
    ItemState,
    Job,
    JobGoldPrelabel,
    JobItem,
    Task,
    TaskState,
)
from qiloop.labeling.models.workforce import ApiToken, BrowserSession, LoginFailure, Role, User

__all__ = [
    "Annotation",
    "ApiToken",
    "BrowserSession",
    "ConsolidatedResult",
    "Decision",
    "GoldItem",
    "ItemState",
    "Job",
    "JobGoldPrelabel",
    "JobItem",
    "LoginFailure",
    "Role",
    "Task",
    "TaskState",
    "User",
    "VerificationDecision",
]
