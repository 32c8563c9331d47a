"""Label file formats: each a pure parse/render pair plus a thin file shell.

:data:`FORMATS` names them for the command line; :func:`detect` guesses a
format from a path and :func:`read_any` / :func:`write_any` dispatch on a name.

| name | reads | writes (options) |
|---|---|---|
| ``labels-csv`` | ``labels.csv`` | the file |
| ``groundtruth`` | a Ground Truth output manifest (``.manifest``, ``.jsonl``) | ``classes``, ``attribute`` |
| ``coco`` | COCO detection JSON (``.json``) | ``classes`` |
| ``yolo`` | a folder with ``data.yaml`` | ``classes``, ``fetch``, ``split`` (images are copied) |
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qiloop.core.errors import ConfigurationError
from qiloop.labelstore.formats import coco, groundtruth, labels_csv, yolo_folder
from qiloop.labelstore.formats.draft import LabelDraft, ParseResult


@dataclass(frozen=True)
class Format:
    """One label format: how to read a file (or folder) and how to write one."""

    name: str
    read: Callable[..., ParseResult]
    write: Callable[..., Any]
    suffixes: tuple[str, ...]
    description: str


def _write_yolo(root: str | Path, drafts: Iterable[LabelDraft], **options: Any) -> yolo_folder.ExportResult:
    """Export drafts into one split (default train), each image named after its reference."""
    split = options.pop("split", "train")
    items = ((d, split, Path(d.image_ref.split("?")[0]).name) for d in drafts)
    return yolo_folder.export(root, items, **options)


FORMATS: dict[str, Format] = {
    "labels-csv": Format("labels-csv", labels_csv.read, labels_csv.write, (".csv",), "the reference labels.csv"),
    "groundtruth": Format(
        "groundtruth", groundtruth.read, groundtruth.write, (".manifest", ".jsonl"), "Ground Truth output manifest"
    ),
    "coco": Format("coco", coco.read, coco.write, (".json",), "COCO detection JSON"),
    "yolo": Format("yolo", yolo_folder.read, _write_yolo, (), "YOLO folder (images/, labels/, data.yaml)"),
}


def get(name: str) -> Format:
    """The format called ``name``, or a ConfigurationError listing the known ones."""
    try:
        return FORMATS[name]
    except KeyError:
        raise ConfigurationError(f"unknown label format {name!r}", hint=f"use one of {', '.join(FORMATS)}") from None


def detect(path: str | Path) -> str:
    """The format of ``path`` from its name: a folder with data.yaml is YOLO, else by suffix.

    Raises:
        ConfigurationError: The path says nothing about its format.
    """
    path = Path(path)
    if (path.is_dir() and (path / "data.yaml").is_file()) or path.name in ("data.yaml", "data.yml"):
        return "yolo"
    for fmt in FORMATS.values():
        if path.suffix.lower() in fmt.suffixes:
            return fmt.name
    raise ConfigurationError(
        f"cannot tell the label format of {path}", hint=f"name it with --format ({', '.join(FORMATS)})"
    )


def read_any(path: str | Path, fmt: str | None = None, **options: Any) -> ParseResult:
    """Parse ``path`` in format ``fmt`` (detected when ``None``); options go to that format's reader."""
    return get(fmt or detect(path)).read(path, **options)


def write_any(path: str | Path, drafts: Iterable[LabelDraft], fmt: str, **options: Any) -> Any:
    """Write drafts to ``path`` in format ``fmt``; options go to that format's writer."""
    return get(fmt).write(path, drafts, **options)
