"""The Loop page's picture: six stages in a cycle, each with its live counts and a link to its page."""

from __future__ import annotations

from dataclasses import dataclass

from qiloop.console.loop_state import LoopState

BOX_W, BOX_H = 252, 116
COLUMNS = (20, 334, 648)
ROWS = (20, 216)
WIDTH, HEIGHT = 920, 352


@dataclass(frozen=True)
class Stage:
    key: str
    title: str
    lines: tuple[str, ...]
    href: str
    x: int
    y: int
    alert: bool = False  # something waits here


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def stages(state: LoopState) -> list[Stage]:
    """The stages clockwise from the image store, placed on two rows (top left → right, bottom right → left)."""
    (c0, c1, c2), (r0, r1) = COLUMNS, ROWS
    by_version = [f"{n} on {v}" for v, n in list(state.devices_by_version.items())[:2]]
    return [
        Stage("images", "Image store", (_plural(state.images, "image"), f"{state.feedback_waiting} feedback waiting"),
              "/data", c0, r0, state.feedback_waiting > 0),
        Stage("labelling", "Labelling", (f"{state.waiting_for_labels} waiting for labels",
              f"{state.in_jobs} in {_plural(state.jobs_open, 'open job')}"), "/admin", c1, r0,
              state.waiting_for_labels > 0),
        Stage("labels", "Label store", (f"{state.approved_images} approved images",
              f"{state.approved_since_training} since last training"), "/data?status=APPROVED", c2, r0,
              state.approved_since_training > 0),
        Stage("models", "Training · registry", (_plural(state.candidates, "candidate"),
              f"production: {state.production or 'none'}"), "/models", c2, r1, state.candidates > 0),
        Stage("fleet", "Fleet", (f"{state.devices_online} of {_plural(state.devices, 'device')} online",
              *(by_version or ["no model running"])[:1], _plural(state.alerts_open, "open alert")), "/fleet", c1, r1,
              state.alerts_open > 0),
        Stage("results", "Results", ("inspections and verdicts", "uncertain ones → image store"), "/results",
              c0, r1),
    ]  # fmt: skip


def arrows() -> list[tuple[int, int, int, int]]:
    """(x1, y1, x2, y2) of the arrows between neighbouring stages, closing the loop."""
    (c0, c1, c2), (r0, r1) = COLUMNS, ROWS
    mid0, mid1 = r0 + BOX_H // 2, r1 + BOX_H // 2
    return [
        (c0 + BOX_W, mid0, c1 - 6, mid0),
        (c1 + BOX_W, mid0, c2 - 6, mid0),
        (c2 + BOX_W // 2, r0 + BOX_H, c2 + BOX_W // 2, r1 - 6),
        (c2, mid1, c1 + BOX_W + 6, mid1),
        (c1, mid1, c0 + BOX_W + 6, mid1),
        (c0 + BOX_W // 2, r1, c0 + BOX_W // 2, r0 + BOX_H + 6),
    ]
