"""``qiloop broker``: run the embedded MQTT broker; make the certificates and the ACL of a fleet's Mosquitto."""

from __future__ import annotations

import typer

from qiloop.cli.broker import acl, certs, run

app = typer.Typer(
    help="The embedded MQTT broker, for a set-up without Mosquitto; certificates and the ACL of a fleet's Mosquitto.",
    no_args_is_help=True,
)
app.command("run")(run.run)
app.command("acl")(acl.acl)
app.command("certs")(certs.certs)
