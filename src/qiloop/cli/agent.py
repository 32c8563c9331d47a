"""``qiloop agent``: the device nucleus. ``run`` installs and runs what the fleet deploys; ``status`` shows it.

Imports nothing beyond the edge install.
"""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path
from typing import Annotated

import typer

from qiloop.cli.common import JsonOption, console, print_json

app = typer.Typer(help="The device nucleus: signed deployments, atomic installs, health checks, rollback.",
                  no_args_is_help=True)  # fmt: skip

AgentHome = Annotated[Path, typer.Option("--home", help="The device home folder.", show_default=False)]


@app.command("run")
def run(
    home: AgentHome,
    device_id: Annotated[str, typer.Option("--device-id", help="This device's name.", show_default=False)],
    group: Annotated[
        list[str] | None, typer.Option("--group", help="A group the device belongs to (repeat).", show_default=False)
    ] = None,
    broker: Annotated[str, typer.Option("--broker", help="MQTT broker URL.")] = "mqtt://127.0.0.1:1883",
    controller: Annotated[
        str, typer.Option("--controller", help="Base URL of the fleet's file server.")
    ] = "http://127.0.0.1:8470",
    trust_key: Annotated[
        list[Path] | None,
        typer.Option("--trust-key", help="Trust deployments signed by this public key file.", show_default=False),
    ] = None,
    camera_dir: Annotated[
        Path | None, typer.Option("--camera-dir", help="Folder the inference component watches.", show_default=False)
    ] = None,
    health_window: Annotated[
        float, typer.Option("--health-window", help="Seconds a restarted process must stay up to pass.")
    ] = 5.0,
    download_retry: Annotated[
        float, typer.Option("--download-retry", help="Seconds to retry an unreachable file server.")
    ] = 300.0,
) -> None:
    """Run the nucleus until SIGTERM or Ctrl-C; component processes stop with it.

    Set QILOOP_ENROLL_TOKEN to a token from `qiloop fleet enroll-token` to enroll the device's key
    (kept in <home>/identity/) with the fleet on its first hello. Set QILOOP_AGENT_FAILPOINT=<point>
    only in reliability tests: the nucleus then kills itself at that point of an install.
    """
    from qiloop.edge.agent.config import AgentConfig
    from qiloop.edge.agent.nucleus import Nucleus
    from qiloop.edge.agent.trust import TrustStore
    from qiloop.protocol.keys import decode_public_key

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = AgentConfig(
        home=home, device_id=device_id, groups=list(group or []), broker_url=broker, controller_url=controller,
        camera_dir=camera_dir, health_window_s=health_window, download_retry_s=download_retry,
        enroll_token=os.environ.get("QILOOP_ENROLL_TOKEN") or None,
    )  # fmt: skip
    home.mkdir(parents=True, exist_ok=True)
    for key_file in trust_key or []:
        TrustStore.add(home / "trusted-keys", decode_public_key(key_file.read_text()))
    nucleus = Nucleus.create(config)
    signal.signal(signal.SIGTERM, lambda *_: nucleus.stop())
    signal.signal(signal.SIGINT, lambda *_: nucleus.stop())
    console.print(f"nucleus of {device_id} running (home {home}); SIGTERM or Ctrl-C stops it", highlight=False)
    nucleus.run()


@app.command("status")
def status(home: AgentHome, limit: Annotated[int, typer.Option("--limit", help="Recent deployments.")] = 10,
           json_out: JsonOption = False) -> None:  # fmt: skip
    """Show the running set and the recent deployments with their states."""
    from rich.table import Table

    from qiloop.core.errors import NotFoundError
    from qiloop.edge.agent.home import DeviceHome
    from qiloop.edge.agent.state import AgentState

    if not (home / "state.db").is_file():
        raise NotFoundError(f"{home} is not a device home (no state.db)", hint="give the --home of qiloop agent run")
    device, state = DeviceHome(home), AgentState(home / "state.db")
    try:
        rows = state.history(limit)
    finally:
        state.close()
    running = device.current()
    if json_out:
        print_json({"running": running, "deployments": [
            {"id": r.id, "target": r.target, "sequence": r.sequence, "state": r.state.value, "detail": r.detail,
             "final": r.final} for r in rows]})  # fmt: skip
        return
    console.print("running: " + (", ".join(f"{n} {v}" for n, v in sorted(running.items())) or "nothing"))
    table = Table("deployment", "target", "sequence", "state", "detail")
    for r in rows:
        table.add_row(r.id[:12], r.target, str(r.sequence), r.state.value, r.detail[:80])
    console.print(table)
