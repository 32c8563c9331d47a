"""Run ``qiloop`` as a device install runs it: in a fresh interpreter where the CLI's frameworks cannot load."""

from __future__ import annotations

import subprocess
import sys

CLI_FRAMEWORKS = ("typer", "rich", "pydantic_settings", "click")
# An entry of None in sys.modules makes an import fail and find_spec report the module absent; the
# console script's function then runs the device commands, and none of the frameworks may load.
WITHOUT_CLI = f"""
import sys
for name in {CLI_FRAMEWORKS!r}:
    sys.modules[name] = None
from qiloop.cli.entry import main
rc = main(sys.argv[1:])
loaded = [m for m in sys.modules if m.split(".")[0] in {CLI_FRAMEWORKS!r} and sys.modules[m] is not None]
assert not loaded, loaded
sys.exit(rc)
"""


def device_qiloop(*argv, env=None, cwd=None, timeout=120) -> subprocess.CompletedProcess:
    """``qiloop ARGV`` without Typer, Rich and pydantic-settings; its exit code, stdout and stderr."""
    return subprocess.run([sys.executable, "-c", WITHOUT_CLI, *map(str, argv)], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=cwd)  # fmt: skip
