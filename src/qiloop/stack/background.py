"""``qiloop up`` as a child process on free ports, for tests and benchmarks that need the whole stack.

:class:`BackgroundStack` starts ``qiloop up`` on a home with every port chosen
free (``0``), waits until its record says ``running``, and stops it with SIGTERM
as Ctrl-C would. The environment is the caller's without any ``QILOOP_*`` or
``DAGSTER_*`` variable (the home's own settings apply), plus what the caller adds.

Example:
    >>> with BackgroundStack.start(home, env={"QILOOP_LABEL_JOB_MIN_IMAGES": "3"}) as stack:  # doctest: +SKIP
    ...     stack.url("dagster-webserver")
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from qiloop.core.errors import QiloopError
from qiloop.stack.plan import PORT_OPTIONS
from qiloop.stack.record import StackRecord, read_record, stack_folder

MAIN = "import sys; from qiloop.cli.main import main; sys.exit(main())"
FREE_PORTS = tuple(arg for option in PORT_OPTIONS.values() for arg in (option, "0"))


class StackNotReady(QiloopError):
    """``qiloop up`` ended, or was not running within the time given."""


class BackgroundStack:
    """A running ``qiloop up`` child process and its record.

    Args:
        process: The ``qiloop up`` process.
        home: Its home (absolute).
        log: Where its output goes (``<home>/../up.log`` by default).
    """

    def __init__(self, process: subprocess.Popen, home: Path, log: Path, log_file: IO[str]):
        self.process, self.home, self.log = process, home, log
        self._log_file = log_file
        self.record: StackRecord | None = None
        self.ready_s: float | None = None

    @classmethod
    def start(
        cls,
        home: Path,
        *,
        env: Mapping[str, str] | None = None,
        args: tuple[str, ...] = (),
        log: Path | None = None,
        timeout: float = 300.0,
    ) -> BackgroundStack:
        """Start ``qiloop up`` on ``home`` (free ports) and wait until every part is ready.

        Args:
            home: The qiloop home (made absolute).
            env: Variables added to the cleaned environment (``QILOOP_HOME`` is set to ``home``).
            args: More ``qiloop up`` options.
            log: The file its output goes to (default ``up.log`` beside the home).
            timeout: Seconds to wait for readiness (also ``--start-timeout``).

        Raises:
            StackNotReady: ``qiloop up`` ended or was not running within ``timeout`` (it is stopped first);
                the message ends with the tail of its log.
        """
        home = Path(home).resolve()
        log = log or home.parent / "up.log"
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("QILOOP_", "DAGSTER_"))}
        clean.update({"QILOOP_HOME": str(home), **(env or {})})
        argv = [sys.executable, "-c", MAIN, "up", *FREE_PORTS, "--start-timeout", str(int(timeout)), *args]
        log_file = open(log, "w")  # noqa: SIM115 - the child writes to it until it ends
        started = time.monotonic()
        stack = cls(subprocess.Popen(argv, env=clean, stdout=log_file, stderr=subprocess.STDOUT), home, log, log_file)
        try:
            stack.record = stack._wait_running(timeout + 30)
        except BaseException:
            stack.stop()
            raise
        stack.ready_s = time.monotonic() - started
        return stack

    def url(self, part: str) -> str:
        """Where the part named ``part`` listens (``dagster-webserver``, ``labeling``, ``mlflow``, ``fleet``)."""
        record = self.record or read_record(self.home)
        found = next((p.url for p in (record.parts if record else []) if p.name == part and p.url), None)
        if found is None:
            raise StackNotReady(f"the stack of {self.home} runs no part {part!r} with a URL")
        return found

    def alive(self) -> bool:
        """Whether ``qiloop up`` still runs."""
        return self.process.poll() is None

    def check_alive(self, what: str) -> None:
        """Raise :class:`StackNotReady` (with the log's tail) when ``qiloop up`` ended while waiting for ``what``."""
        if not self.alive():
            raise StackNotReady(
                f"qiloop up ended (exit {self.process.returncode}) while waiting for {what}\n{self.log_tail()}",
                hint=f"its whole output is in {self.log}; each part's log in {stack_folder(self.home) / 'logs'}",
            )

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of ``qiloop up``'s output."""
        if not self._log_file.closed:
            self._log_file.flush()
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 90.0) -> int | None:
        """SIGTERM, as Ctrl-C would; its exit code (None when it had to be killed after ``timeout``)."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            code = None
        self._log_file.close()
        return code

    def __enter__(self) -> BackgroundStack:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _wait_running(self, timeout: float) -> StackRecord:
        deadline = time.monotonic() + timeout
        path = stack_folder(self.home) / "up.json"
        while time.monotonic() < deadline:
            self.check_alive("the stack to be ready")
            record = read_record(self.home) if path.exists() else None
            if record is not None and record.state == "running":
                return record
            time.sleep(0.5)
        raise StackNotReady(
            f"qiloop up was not running within {timeout:g} s\n{self.log_tail()}",
            hint=f"give it longer on a loaded machine; each part's log is in {stack_folder(self.home) / 'logs'}",
        )
