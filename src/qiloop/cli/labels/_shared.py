"""What the ``qiloop labels`` read commands share: the as-of options and the stores of a home."""

from __future__ import annotations

from typing import Annotated

import typer

from qiloop.cli.common import settings_for

AsOf = Annotated[
    str | None, typer.Option("--as-of", help="Read as of this time (ISO 8601 or Unix seconds).", show_default=False)
]
StoreVersion = Annotated[
    int | None,
    typer.Option(
        "--store-version",
        help="Read as of this label-store table version (`qiloop labels versions` lists them).",
        show_default=False,
    ),
]


def read_stores(home):
    """Settings, image store and label store of a home that exists (these commands only read)."""
    settings = settings_for(home, must_exist=True)
    from qiloop.labelstore import LabelStore
    from qiloop.storage import ImageStore

    return settings, ImageStore.from_settings(settings), LabelStore.from_settings(settings)
