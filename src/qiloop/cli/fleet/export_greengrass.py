"""``qiloop fleet export-greengrass``: AWS IoT Greengrass v2 recipes for users who run Greengrass."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qiloop.cli.common import HomeOption, console, settings_for


def export_greengrass(
    component: Annotated[
        str, typer.Option("--component", help="NAME/VERSION of a published component.", show_default=False)
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder to write recipes, artefacts and deployment into.")],
    deployment: Annotated[
        str | None,
        typer.Option(
            "--deployment", help="Also export this deployment (id from qiloop fleet status).", show_default=False
        ),
    ] = None,
    bucket: Annotated[
        str, typer.Option("--bucket", help="S3 bucket the artefacts will be uploaded to.")
    ] = "YOUR-BUCKET",
    home: HomeOption = None,
) -> None:
    """Write AWS IoT Greengrass v2 recipes (and a deployment) for users who run Greengrass."""
    from qiloop.core.errors import ConfigurationError, NotFoundError
    from qiloop.fleet.component_store import ComponentStore
    from qiloop.fleet.greengrass import export
    from qiloop.fleet.registry_db import FleetDB

    settings = settings_for(home)
    store = ComponentStore.from_settings(settings)
    name, _, version = component.partition("/")
    if not version:
        raise ConfigurationError(f"--component {component!r} names no version", hint="write NAME/VERSION")
    components = {(name, version): store.get(name, version)}
    document = None
    if deployment is not None:
        signed = FleetDB.from_settings(settings).deployment(deployment)
        if signed is None:
            raise NotFoundError(f"no deployment {deployment}", hint="see the ids in qiloop fleet status --json")
        document = signed.deployment()
        for ref in document.components:
            components.setdefault((ref.name, ref.version), store.get(ref.name, ref.version))
    written = export(list(components.values()), store.read_file, out, deployment=document, bucket=bucket)
    for path in written:
        console.print(f"  {path}", highlight=False)
    console.print(f"upload {out / 'artifacts'} to s3://{bucket}/qiloop/, then create the components from "
                  f"{out / 'recipes'}", highlight=False)  # fmt: skip
