"""``python -m qiloop.edge.inference``: the inference app as the nucleus starts it on a device.

The inference component ships only ``qiloop.core``, ``qiloop.protocol`` and ``qiloop.edge``
(not the CLI, which imports the cloud side's command modules), so the component's command
runs this module rather than ``qiloop edge run``. It takes the options the component's
lifecycle fills in, plus ``key=value`` settings and ``--config`` as ``qiloop edge run`` does,
and exits with qiloop's exit codes (2 bad configuration, 3 missing extra, 4 altered
package, 5 not found).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

from qiloop.core.errors import ConfigurationError, QiloopError


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m qiloop.edge.inference", description="Inspect camera images with a model package."
    )
    parser.add_argument("overrides", nargs="*", help="settings as key=value (dotted: feedback.sample_rate=0.05)")
    parser.add_argument("--package", type=Path, help="the model package folder")
    parser.add_argument("--device-id", help="this device's name")
    parser.add_argument("--broker", default=os.environ.get("QILOOP_MQTT_URL"), help="MQTT broker URL")
    parser.add_argument("--watch", type=Path, help="inspect images that appear in this folder")
    parser.add_argument("--config", type=Path, help="an app config YAML/JSON file")
    parser.add_argument("--home", type=Path, default=Path(os.environ.get("QILOOP_HOME", ".qiloop")),
                        help="data folder; the outbox is HOME/devices/ID/outbox.sqlite")  # fmt: skip
    return parser.parse_args(argv)


def config_from(args: argparse.Namespace):
    """The :class:`AppConfig` the options describe (what ``qiloop edge run`` builds from the same options)."""
    from qiloop.edge.inference.config import AppConfig

    bad = [item for item in args.overrides if "=" not in item]
    if bad:
        raise ConfigurationError(f"not a key=value setting: {bad[0]!r}", hint="write settings as key=value")
    values: dict[str, Any] = {}
    if args.package is not None:
        values["package"] = args.package
    if args.device_id is not None:
        values["device_id"] = args.device_id
    if args.watch is not None:
        values["source"] = {"type": "folder", "path": args.watch}
    cfg = AppConfig.resolve(path=args.config, values=values, overrides=args.overrides)
    if args.broker:
        cfg = AppConfig.build({**cfg.model_dump(), "broker": args.broker})
    if cfg.broker is None:
        raise ConfigurationError("no MQTT broker configured", hint="pass --broker mqtt://HOST:PORT")
    if cfg.outbox is None:
        cfg = AppConfig.build({**cfg.model_dump(), "outbox": args.home / "devices" / cfg.device_id / "outbox.sqlite"})
    return cfg


def main(argv: list[str] | None = None) -> int:
    from qiloop.edge.inference.app import run_until_stopped

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        run_until_stopped(config_from(parse(argv)))
    except QiloopError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
