"""``qiloop edge``: the device side. ``qiloop edge run`` inspects camera images with a model package.

``qiloop edge run --config app.yaml threads=2`` builds exactly the
:class:`~qiloop.edge.inference.config.AppConfig` that
``AppConfig.resolve(path="app.yaml", overrides=["threads=2"])`` builds, with the
options laid over the file first. Imports nothing beyond the edge install.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import typer

from qiloop.cli.common import HomeOption, JsonOption, console, err_console, print_json, settings_for

app = typer.Typer(help="The device side: run the inference app on camera images.", no_args_is_help=True)


@app.command("run")
def run(
    args: Annotated[
        list[str] | None,
        typer.Argument(
            help="Settings as key=value (dotted: feedback.sample_rate=0.05); other words are image "
            "files, as with --files.",
            show_default=False,
        ),
    ] = None,
    package: Annotated[
        Path | None, typer.Option("--package", help="The model package folder.", show_default=False)
    ] = None,
    device_id: Annotated[
        str | None, typer.Option("--device-id", help="This device's name.", show_default=False)
    ] = None,
    watch: Annotated[
        Path | None, typer.Option("--watch", help="Inspect images that appear in this folder.", show_default=False)
    ] = None,
    files: Annotated[
        list[Path] | None, typer.Option("--files", help="Inspect these image files once each.", show_default=False)
    ] = None,
    broker: Annotated[
        str | None, typer.Option("--broker", help="MQTT broker URL (default: QILOOP_MQTT_URL).", show_default=False)
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="An app config YAML/JSON file.", show_default=False)
    ] = None,
    max_images: Annotated[
        int | None, typer.Option("--max-images", help="Stop after N images.", show_default=False)
    ] = None,
    duration: Annotated[
        float | None, typer.Option("--duration", help="Stop after S seconds.", show_default=False)
    ] = None,
    int8: Annotated[
        bool | None, typer.Option("--int8/--fp32", help="Run the INT8 or the FP32 model.", show_default=False)
    ] = None,
    print_config: Annotated[bool, typer.Option("--print-config", help="Print the resolved config and stop.")] = False,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Inspect images with a model package; publish results, status and feedback over MQTT.

    Results go to the results topic, status every status_interval_s to
    qiloop/devices/ID/status, uncertain images to qiloop/devices/ID/feedback, all
    through a durable outbox (HOME/devices/ID/outbox.sqlite): a broker outage or a
    crash delays messages and loses none. SIGTERM or Ctrl-C finishes the current
    image, flushes and stops with exit code 0.

    Exit codes: 0 stopped cleanly; 2 bad configuration; 3 an install extra is
    missing; 4 the package was altered; 5 the package or folder does not exist.
    """
    from qiloop.core.errors import ConfigurationError
    from qiloop.edge.inference.config import AppConfig

    overrides = [a for a in args or [] if "=" in a]
    files = [*(files or []), *(Path(a) for a in args or [] if "=" not in a)]
    if watch is not None and files:
        raise ConfigurationError("give --watch or --files, not both", hint="one source per app")
    values: dict[str, Any] = {}
    for key, value in (("package", package), ("device_id", device_id), ("int8", int8), ("max_images", max_images),
                       ("duration_s", duration)):  # fmt: skip
        if value is not None:
            values[key] = value
    if watch is not None:
        values["source"] = {"type": "folder", "path": watch}
    elif files:
        values["source"] = {"type": "files", "paths": files}
    settings = settings_for(home)
    cfg = AppConfig.resolve(path=config, values=values, overrides=overrides)
    if cfg.broker is None:
        if broker is None and not settings.mqtt_url:
            raise ConfigurationError(
                "no MQTT broker configured", hint="pass --broker mqtt://HOST:PORT or set QILOOP_MQTT_URL"
            )
        cfg = AppConfig.build({**cfg.model_dump(), "broker": broker or settings.mqtt_url})
    elif broker is not None:
        cfg = AppConfig.build({**cfg.model_dump(), "broker": broker})
    if cfg.outbox is None:
        cfg = AppConfig.build(
            {**cfg.model_dump(), "outbox": settings.home / "devices" / cfg.device_id / "outbox.sqlite"}
        )
    if print_config:
        print_json(cfg.model_dump(mode="json"))
        return
    summary = _run(cfg, quiet=json_out)
    if json_out:
        print_json(summary)


def _run(cfg, *, quiet: bool) -> dict:
    from qiloop.edge.inference.app import run_until_stopped

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    summary = run_until_stopped(cfg)
    if not quiet:
        _print_summary(summary)
    return summary


def _print_summary(summary: dict) -> None:
    from rich.table import Table

    table = Table(title=f"qiloop edge run: {summary['device_id']} ({summary['model']})", show_header=False)
    rate = summary["images_processed"] / summary["seconds"] if summary["seconds"] else 0.0
    rows = [
        ("images inspected", f"{summary['images_processed']} in {summary['seconds']} s ({rate:.1f}/s)"),
        ("images rejected", str(summary["images_rejected"])),
        ("defects (fail)", str(summary["defects"])),
        ("feedback images", str(summary["feedback_sent"])),
        ("latency p50 / p95", f"{summary['latency_p50_ms']} / {summary['latency_p95_ms']} ms"),
        ("outbox", ", ".join(f"{k} {v}" for k, v in summary["outbox"].items())),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    if not summary["flushed"]:
        waiting = summary["outbox"]["depth"]
        err_console.print(f"{waiting} message(s) wait in the outbox for the next start", style="yellow")
