"""``qiloop fleet download-url``: the controller URL a device downloads its components through."""

from __future__ import annotations

from typing import Annotated

import typer

from qiloop.cli.common import HomeOption, err_console, settings_for


def download_url(
    device: Annotated[str, typer.Option("--device", help="The device id.", show_default=False)],
    base: Annotated[
        str,
        typer.Option(
            "--base",
            help="The file server as devices reach it, e.g. https://fleet.example.com:8470.",
            show_default=False,
        ),
    ],
    home: HomeOption = None,
) -> None:
    """Print the device's --controller URL: the file server's, with the device's download token in its path.

    The token is HMAC-SHA256 of the device id under the secret in <home>/keys/download-token.key (made on
    first use): it opens that device's downloads only. The file server asks for it when
    QILOOP_FLEET_DOWNLOAD_TOKENS=1; give the URL to qiloop agent run --controller. A new secret revokes
    every token.
    """
    from qiloop.core.errors import ConfigurationError
    from qiloop.fleet.download_tokens import DownloadTokens

    if not base.startswith(("http://", "https://")):
        raise ConfigurationError(f"--base {base!r} is not an http(s) URL", hint="e.g. https://fleet.example.com:8470")
    settings = settings_for(home)
    url = DownloadTokens.from_home(settings.home).device_url(base, device)
    typer.echo(url)
    if base.startswith("http://"):
        err_console.print("note: over http:// the token travels in clear; give the file server a certificate "
                      "(QILOOP_FLEET_TLS_CERT_FILE) and use https://", style="yellow", highlight=False)  # fmt: skip
