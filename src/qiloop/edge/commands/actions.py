"""What the device's commands do, in plain text: the same library calls as the full CLI's commands.

``agent run`` builds the :class:`~qiloop.edge.agent.config.AgentConfig` and runs the nucleus;
``agent status`` reads the device home; ``edge run`` resolves the
:class:`~qiloop.edge.inference.config.AppConfig` as ``qiloop edge run`` does and runs the app.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from qiloop.core.errors import ConfigurationError, NotFoundError

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str), flush=True)


def agent_run(args: argparse.Namespace) -> int:
    """Run the nucleus until SIGTERM or Ctrl-C (QILOOP_ENROLL_TOKEN enrolls the device key on its first hello)."""
    from qiloop.edge.agent.config import AgentConfig
    from qiloop.edge.agent.nucleus import Nucleus
    from qiloop.edge.agent.trust import TrustStore
    from qiloop.protocol.keys import decode_public_key

    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    config = AgentConfig(
        home=args.home, device_id=args.device_id, groups=list(args.group), broker_url=args.broker,
        controller_url=args.controller, camera_dir=args.camera_dir, health_window_s=args.health_window,
        download_retry_s=args.download_retry, enroll_token=os.environ.get("QILOOP_ENROLL_TOKEN") or None,
    )  # fmt: skip
    args.home.mkdir(parents=True, exist_ok=True)
    for key_file in args.trust_key:
        TrustStore.add(args.home / "trusted-keys", decode_public_key(key_file.read_text()))
    nucleus = Nucleus.create(config)
    signal.signal(signal.SIGTERM, lambda *_: nucleus.stop())
    signal.signal(signal.SIGINT, lambda *_: nucleus.stop())
    print(f"nucleus of {args.device_id} running (home {args.home}); SIGTERM or Ctrl-C stops it", flush=True)
    nucleus.run()
    return 0


def agent_status(args: argparse.Namespace) -> int:
    """Print the running set and the recent deployments with their states."""
    from qiloop.edge.agent.home import DeviceHome
    from qiloop.edge.agent.state import AgentState

    if not (args.home / "state.db").is_file():
        raise NotFoundError(
            f"{args.home} is not a device home (no state.db)", hint="give the --home of qiloop agent run"
        )
    state = AgentState(args.home / "state.db")
    try:
        rows = state.history(args.limit)
    finally:
        state.close()
    running = DeviceHome(args.home).current()
    if args.json_out:
        print_json({"running": running, "deployments": [
            {"id": r.id, "target": r.target, "sequence": r.sequence, "state": r.state.value, "detail": r.detail,
             "final": r.final} for r in rows]})  # fmt: skip
        return 0
    print("running: " + (", ".join(f"{n} {v}" for n, v in sorted(running.items())) or "nothing"))
    for r in rows:
        print(f"{r.id[:12]}  {r.target}  {r.sequence}  {r.state.value}  {r.detail[:80]}")
    return 0


def app_config(args: argparse.Namespace):
    """The :class:`AppConfig` the options describe, with ``qiloop edge run``'s precedence."""
    from qiloop.edge.inference.config import AppConfig

    overrides = [a for a in args.args if "=" in a]
    files = [*args.files, *(Path(a) for a in args.args if "=" not in a)]
    if args.watch is not None and files:
        raise ConfigurationError("give --watch or --files, not both", hint="one source per app")
    named = {"package": args.package, "device_id": args.device_id, "int8": args.int8,
             "max_images": args.max_images, "duration_s": args.duration}  # fmt: skip
    values: dict[str, Any] = {k: v for k, v in named.items() if v is not None}
    if args.watch is not None:
        values["source"] = {"type": "folder", "path": args.watch}
    elif files:
        values["source"] = {"type": "files", "paths": files}
    cfg = AppConfig.resolve(path=args.config, values=values, overrides=overrides)
    if cfg.broker is None:
        broker = args.broker or os.environ.get("QILOOP_MQTT_URL")
        if not broker:
            raise ConfigurationError(
                "no MQTT broker configured", hint="pass --broker mqtt://HOST:PORT or set QILOOP_MQTT_URL"
            )
        cfg = AppConfig.build({**cfg.model_dump(), "broker": broker})
    if cfg.outbox is None:
        home = args.home or args.root_home or Path(os.environ.get("QILOOP_HOME") or ".qiloop")
        cfg = AppConfig.build({**cfg.model_dump(), "outbox": home / "devices" / cfg.device_id / "outbox.sqlite"})
    return cfg


def edge_run(args: argparse.Namespace) -> int:
    """Inspect images with a model package; results, status and feedback go out through the durable outbox."""
    from qiloop.edge.inference.app import run_until_stopped

    cfg = app_config(args)
    if args.print_config:
        print_json(cfg.model_dump(mode="json"))
        return 0
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    summary = run_until_stopped(cfg)
    if args.json_out:
        print_json(summary)
    else:
        for key, value in summary.items():
            print(f"{key}: {value}")
    if not summary["flushed"]:
        print(f"{summary['outbox']['depth']} message(s) wait in the outbox for the next start", file=sys.stderr)
    return 0
