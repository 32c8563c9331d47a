"""``qiloop fleet``: the fleet controller and the devices it knows (a package: one module per command or group)."""

from __future__ import annotations

import typer

from qiloop.cli.fleet import (
    add_key,
    alerts,
    devices,
    download_url,
    enroll_token,
    export_greengrass,
    keys,
    remove_key,
    serve,
    status,
)

app = typer.Typer(help="The fleet controller and the devices it knows.", no_args_is_help=True)
app.command("serve")(serve.serve)
app.command("download-url")(download_url.download_url)
app.command("enroll-token")(enroll_token.enroll_token)
app.command("add-key")(add_key.add_key)
app.command("remove-key")(remove_key.remove_key)
app.command("keys")(keys.keys)
app.add_typer(alerts.app, name="alerts")
app.command("status")(status.status)
app.command("devices")(devices.devices)
app.command("export-greengrass")(export_greengrass.export_greengrass)
