"""Health checks after a switch: a test inference for models, staying alive for processes.

A model component passes when :meth:`OnnxDetector.from_package` loads its folder (every
file verified, the test inference of the runtime passed) and detects on a golden image
within a timeout. The golden image is the component's own ``golden.jpg``, else the
first image in ``<home>/golden/``, else a mid-grey picture. The check runs in a child
process (``python -m qiloop.edge.agent.health FOLDER [IMAGE]``), so a model that hangs
or crashes ONNX Runtime fails its check instead of taking the nucleus down.

A component with a command passes when its process stays up, without a single exit,
for the health window: a fresh install that dies at once is a failed install, even if
its restart policy would bring it back.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

from qiloop.edge.agent.supervisor import Supervisor

GOLDEN = "golden.jpg"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def golden_image(component: Path, home: Path) -> Path | None:
    """The image a model is tested on: its own, the device's, or None (mid-grey)."""
    own = component / GOLDEN
    if own.is_file():
        return own
    folder = home / "golden"
    images = sorted(p for p in folder.glob("*") if p.suffix.lower() in IMAGE_SUFFIXES) if folder.is_dir() else []
    return images[0] if images else None


def check_model(component: Path, home: Path, *, timeout_s: float) -> str | None:
    """Why the model in ``component`` is unhealthy, or None when its test inference passed."""
    image = golden_image(component, home)
    argv = [sys.executable, "-m", "qiloop.edge.agent.health", str(component), *([str(image)] if image else [])]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return f"the test inference of {component.name} took longer than {timeout_s:.0f} s"
    if done.returncode != 0:
        lines = [line for line in (done.stderr or done.stdout).strip().splitlines() if line.strip()]
        return f"the test inference failed (exit {done.returncode}): {lines[-1] if lines else 'no output'}"
    return None


def check_processes(
    supervisor: Supervisor, names: list[str], *, window_s: float, stop: threading.Event | None = None
) -> str | None:
    """Why one of ``names`` is unhealthy, or None when each stayed up for ``window_s`` seconds."""
    if not names:
        return None
    since = time.monotonic()
    while True:
        supervisor.poll()
        for name in names:
            exits = supervisor.exits_since(name, since)
            if exits or not supervisor.alive(name):
                return f"{name} exited {max(exits, 1)} time(s) within its {window_s:.0f} s health window"
        if time.monotonic() - since >= window_s:
            return None
        if stop is not None and stop.wait(0.1):
            return "the nucleus is stopping"
        if stop is None:
            time.sleep(0.1)


def _main(argv: list[str]) -> int:
    """Load a model package, detect on a golden image, print a one-line JSON summary."""
    import numpy as np

    from qiloop.edge.runtime.detector import OnnxDetector

    detector = OnnxDetector.from_package(argv[0], threads=1)
    image = argv[1] if len(argv) > 1 else np.full((*detector.input_size, 3), 128, np.uint8)
    detections = detector.detect(image)
    scores = np.asarray(detections.scores, dtype=float)
    if not np.all(np.isfinite(scores)):
        print("the model returned scores that are not finite", file=sys.stderr)
        return 1
    print(json.dumps({"model": repr(detector), "detections": len(scores)}))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(_main(sys.argv[1:]))
    except Exception as exc:  # the process boundary: the parent reads the last line as the reason
        print(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", file=sys.stderr)
        sys.exit(1)
