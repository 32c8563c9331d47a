"""A testing hook: make the nucleus die by SIGKILL at a named point of an install.

Set ``QILOOP_AGENT_FAILPOINT=<name>[,<name>...]`` in the nucleus's environment and it
kills itself, without any clean-up, the first time it reaches one of those points.
The reliability tests use it to prove that a crash at any step leaves the device on
the old or the new version, never in between. Production devices leave it unset.

Points, in the order an install passes them: ``after_verify``, ``download`` (after
the first file arrived), ``after_download``, ``unpack`` (an archive extracted but not
yet moved into place), ``before_complete``, ``before_switch``, ``after_switch``,
``after_restart``, ``health`` (while the health check runs), ``before_finish``, and
``rollback`` (the previous set switched back, its processes not yet restarted).
"""

from __future__ import annotations

import os
import signal

ENV = "QILOOP_AGENT_FAILPOINT"
POINTS = (
    "after_verify",
    "download",
    "after_download",
    "unpack",
    "before_complete",
    "before_switch",
    "after_switch",
    "after_restart",
    "health",
    "before_finish",
    "rollback",
)


class Failpoints:
    """The armed points (none by default); :meth:`hit` kills the process at an armed one."""

    def __init__(self, armed: set[str] | frozenset[str] = frozenset()) -> None:
        unknown = set(armed) - set(POINTS)
        if unknown:
            from qiloop.core.errors import ConfigurationError

            raise ConfigurationError(f"unknown failpoint(s) {sorted(unknown)}", hint=f"use one of {', '.join(POINTS)}")
        self.armed = frozenset(armed)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Failpoints:
        """The points named in ``QILOOP_AGENT_FAILPOINT`` (comma-separated)."""
        text = (environ if environ is not None else os.environ).get(ENV, "")
        return cls({p.strip() for p in text.split(",") if p.strip()})

    def hit(self, name: str) -> None:
        """Die here by SIGKILL if ``name`` is armed (no clean-up, like a power cut of the process)."""
        if name in self.armed:
            os.kill(os.getpid(), signal.SIGKILL)
