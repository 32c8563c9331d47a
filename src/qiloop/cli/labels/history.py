"""``qiloop labels history``: every label written for one image, named as the user knows it.

An image is named by its sha256, its image-store URI, the path of the file
on disk (hashed, so any copy of the same bytes finds it), or its file name as
ingested (``tag-0007.png``). A name that several stored images share is
refused with the list of their sha256s, so the user can pick one.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from pathlib import Path, PurePath
from typing import Annotated

import typer
from rich.table import Table

from qiloop.cli.common import HomeOption, JsonOption, console, print_json, settings_for, user_file

_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    """The sha256 of a regular file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with user_file(path, what="image file").open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def image_key(text: str, stored_names: Callable[[], Iterable[tuple[str, str]]]) -> str:
    """The sha256 or URI to look ``text`` up by.

    Args:
        text: A sha256, a store URI, a file's path, or a stored file name.
        stored_names: Gives ``(original_name, sha256)`` of every stored image; called only for a name.

    Raises:
        ConfigurationError: The name is shared by several images (the hint lists them).
        NotFoundError: No stored image has that name.
    """
    from qiloop.core.errors import ConfigurationError, NotFoundError

    text = text.strip()
    if _SHA256.match(text):
        return text.lower()
    if "://" in text:
        return text
    path = Path(text)
    if path.exists():
        return file_sha256(path)
    base = PurePath(text).name
    matches = sorted({sha for name, sha in stored_names() if name in (text, base)})
    if len(matches) == 1:
        return matches[0]
    if matches:
        listed = "; ".join(f"{sha} ({base})" for sha in matches[:10])
        raise ConfigurationError(
            f"{len(matches)} stored images are named {base!r}",
            hint=f"give one sha256 or the file's path: {listed}" + (" ..." if len(matches) > 10 else ""),
        )
    raise NotFoundError(
        f"no image named {text!r}: not a file here, nor the name of a stored image",
        hint="give the image's sha256, its path or its file name; `qiloop images ls` lists the stored images",
    )


def history(
    image: Annotated[
        str, typer.Argument(help="The image: its sha256, store URI, file path, or file name as ingested.")
    ],
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Every label record ever written for one image, oldest first."""
    settings = settings_for(home, must_exist=True)
    from qiloop.core.errors import NotFoundError
    from qiloop.labelstore import LabelStore
    from qiloop.storage import ImageStore

    key = image_key(image, lambda: [(r.original_name, r.sha256) for r in ImageStore.from_settings(settings).list()])
    records = LabelStore.from_settings(settings).history(key)
    if not records:
        shown = image if key == image else f"{image} (sha256 {key})"
        raise NotFoundError(f"no label records for {shown}", hint="see `qiloop labels ls` for labelled images")
    if json_out:
        print_json([r.model_dump(mode="json") for r in records])
        return
    table = Table("event time", "written", "status", "boxes", "job", "source", "record id", title=image)
    for r in records:
        table.add_row(
            r.event_time.isoformat(),
            r.write_time.isoformat() if r.write_time else "",
            r.status.value,
            str(len(r.annotations)),
            r.labeling_job,
            r.source.value,
            r.record_id,
        )
    console.print(table)
