"""The device's ``qiloop`` command line as an argparse parser: ``agent run``, ``agent status``, ``edge run``.

Each command takes exactly the options of the full CLI's command of the same name
(``qiloop.cli.agent``, ``qiloop.cli.edge``; a test holds them equal), so a unit file,
a Dockerfile or a README line runs the same on a device as with the cloud extras.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from qiloop import __version__

# The commands of the full CLI, which a device install lacks (the first word is enough to tell).
DEVICE_COMMANDS = {"agent": ("run", "status"), "edge": ("run",)}


def _agent_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run the nucleus until SIGTERM or Ctrl-C")
    p.add_argument("--home", type=Path, required=True, help="the device home folder")
    p.add_argument("--device-id", required=True, help="this device's name")
    p.add_argument("--group", action="append", default=[], help="a group the device belongs to (repeat)")
    p.add_argument("--broker", default="mqtt://127.0.0.1:1883", help="MQTT broker URL")
    p.add_argument("--controller", default="http://127.0.0.1:8470", help="base URL of the fleet's file server")
    p.add_argument("--trust-key", type=Path, action="append", default=[],
                   help="trust deployments signed by this public key file (repeat)")  # fmt: skip
    p.add_argument("--camera-dir", type=Path, help="folder the inference component watches")
    p.add_argument("--health-window", type=float, default=5.0,
                   help="seconds a restarted process must stay up to pass")  # fmt: skip
    p.add_argument("--download-retry", type=float, default=300.0,
                   help="seconds to retry an unreachable file server")  # fmt: skip


def _agent_status(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="show the running set and the recent deployments")
    p.add_argument("--home", type=Path, required=True, help="the device home folder")
    p.add_argument("--limit", type=int, default=10, help="recent deployments")
    p.add_argument("--json", dest="json_out", action="store_true", help="print JSON instead of a table")


def _edge_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="inspect images with a model package; publish results over MQTT")
    p.add_argument(
        "args", nargs="*", metavar="ARG",
        help="settings as key=value (dotted: feedback.sample_rate=0.05); other words are image files",
    )  # fmt: skip
    p.add_argument("--package", type=Path, help="the model package folder")
    p.add_argument("--device-id", help="this device's name")
    p.add_argument("--watch", type=Path, help="inspect images that appear in this folder")
    p.add_argument("--files", type=Path, action="append", default=[], help="inspect these image files once each")
    p.add_argument("--broker", help="MQTT broker URL (default: QILOOP_MQTT_URL)")
    p.add_argument("--config", type=Path, help="an app config YAML/JSON file")
    p.add_argument("--max-images", type=int, help="stop after N images")
    p.add_argument("--duration", type=float, help="stop after S seconds")
    p.add_argument("--int8", dest="int8", action="store_true", default=None, help="run the INT8 model")
    p.add_argument("--fp32", dest="int8", action="store_false", help="run the FP32 model")
    p.add_argument("--print-config", action="store_true", help="print the resolved config and stop")
    p.add_argument("--home", type=Path, help="qiloop home folder (default: QILOOP_HOME, then ./.qiloop)")
    p.add_argument("--json", dest="json_out", action="store_true", help="print a JSON summary")


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``qiloop`` on a device install."""
    parser = argparse.ArgumentParser(
        prog="qiloop",
        description="qiloop on a device: the agent (nucleus) and the inference app. The other commands "
        "come with the cloud extras (pip install 'qiloop[cli]').",
    )
    parser.add_argument("--version", action="version", version=f"qiloop {__version__}")
    parser.add_argument(
        "--home", dest="root_home", type=Path, metavar="HOME", help="qiloop home folder; a command's --home wins"
    )
    groups = parser.add_subparsers(dest="group", metavar="COMMAND", required=True)
    agent = groups.add_parser("agent", help="the device nucleus: signed deployments, installs, rollback")
    agent_commands = agent.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _agent_run(agent_commands)
    _agent_status(agent_commands)
    edge = groups.add_parser("edge", help="the inference app on camera images")
    edge_commands = edge.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _edge_run(edge_commands)
    return parser
