"""``qiloop broker run`` stops cleanly on SIGTERM and on SIGINT, also when started with SIGINT ignored.

A shell's background job starts with SIGINT ignored, and Python then raises no
KeyboardInterrupt: the command must handle the signals itself. Real processes, real sockets.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from mqtt_helpers import free_port

pytest.importorskip("amqtt", reason="the embedded broker needs the broker extra")


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # survives exec, as in a shell's background job


@pytest.mark.parametrize(("sig", "ignored"), [(signal.SIGTERM, False), (signal.SIGINT, True), (signal.SIGINT, False)])
def test_broker_run_stops_cleanly_on_a_signal(tmp_path, sig, ignored):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "qiloop.cli.main", "broker", "run", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
        preexec_fn=_ignore_sigint if ignored else None,
    )
    seen, deadline = "", time.monotonic() + 60
    try:
        while "listening on" not in seen:
            assert time.monotonic() < deadline and proc.poll() is None, seen
            seen += proc.stdout.readline()
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, seen + out
    assert "stopping the broker" in out
