"""``qiloop labeling jobs create``: a labelling job from waiting images, device feedback or named images."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from qiloop.cli.common import HomeOption, JsonOption, console, open_database, print_json, user_file
from qiloop.cli.labeling.jobs._shared import job_json
from qiloop.labeling.consolidation import DEFAULT_MIN_SUPPORT

PRELABEL_HELP = (
    "Pre-label with this model: a registry reference (scratch-detector@production) or a model package folder. "
    "Its boxes, at the thresholds in the package's manifest and with their scores, are shown on the job's images "
    "and on the gold images mixed into the job. With --from feedback the images keep the boxes their devices "
    "reported and only the gold images get the model's. Without a model, gold images show no pre-labels: in a job "
    "pre-labelled from feedback that lets workers tell gold images apart, so give a model there too."
)


def create(
    name: Annotated[str, typer.Argument(help="Job name (letters, digits, '.', '_', '-').")],
    source: Annotated[
        str, typer.Option("--from", help="unlabeled: images without an APPROVED label; feedback: device feedback.")
    ] = "unlabeled",
    images: Annotated[
        list[str] | None, typer.Option("--image", help="Label these images (sha256 or prefix) instead.")
    ] = None,
    classes: Annotated[
        list[str] | None, typer.Option("--class", help="Label class (repeat); default the configured classes.")
    ] = None,
    annotators: Annotated[int, typer.Option("--annotators", help="Annotators per image.")] = 3,
    quorum: Annotated[int | None, typer.Option("--quorum", help="Annotators needed to keep a box.")] = None,
    min_support: Annotated[
        float,
        typer.Option(
            "--min-support",
            help="Weighted vote: also keep a box whose annotators hold this share of the reliability weight. "
            "With equal weights 0.4 is a majority of 3 and 2 of 4 or 5, and keeps either box of 2 annotators.",
        ),
    ] = DEFAULT_MIN_SUPPORT,
    head_count: Annotated[
        bool, typer.Option("--head-count", help="Keep a box only when a quorum of annotators drew it.")
    ] = False,
    instructions: Annotated[str, typer.Option("--instructions", help="Instructions shown to workers.")] = "",
    instructions_file: Annotated[
        Path | None, typer.Option("--instructions-file", help="Read the instructions from a file.")
    ] = None,
    lease_seconds: Annotated[float, typer.Option("--lease-seconds", help="Time a worker holds a task.")] = 900.0,
    gold_every: Annotated[int, typer.Option("--gold-every", help="Every n-th task is a gold image; 0: none.")] = 0,
    prelabel_model: Annotated[
        str | None, typer.Option("--prelabel-model", help=PRELABEL_HELP, show_default=False)
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="At most this many images.")] = None,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Create a labelling job from images without approved labels, from device feedback, or from named images."""
    from qiloop.core.errors import ConfigurationError, NotFoundError
    from qiloop.labelstore import LabelStore
    from qiloop.loop.labeling_job import open_labeling_job
    from qiloop.storage import ImageStore

    if source not in ("unlabeled", "feedback"):
        raise ConfigurationError(f"unknown --from {source!r}", hint="use --from unlabeled or --from feedback")
    if instructions_file is not None:
        user_file(instructions_file, what="instructions file")
    text = instructions_file.read_text(encoding="utf-8") if instructions_file else instructions
    settings, db = open_database(home)

    def registry():
        from qiloop.registry import ModelRegistry

        return ModelRegistry.from_settings(settings)

    opened = open_labeling_job(
        db, ImageStore.from_settings(settings), LabelStore.from_settings(settings),
        classes=classes or settings.classes, source="named" if images else source, named=images or (), name=name,
        registry=registry, prelabel_model=prelabel_model, limit=limit, annotators=annotators, quorum=quorum,
        min_support=None if head_count else min_support, lease_seconds=lease_seconds, gold_every=gold_every,
        instructions=text, progress=not json_out,
    )  # fmt: skip
    if opened is None:  # images another job holds are not free: --limit counts free ones
        raise NotFoundError(
            f"no image to label for job {name!r} (0 offered, all labelled or queued elsewhere)",
            hint="ingest new images, or name images that are neither approved nor in an open job",
        )
    summary = opened.summary
    if json_out:
        print_json(job_json(summary))
    else:
        console.print(
            Text.assemble(
                "created job ",
                (summary.name, "bold"),
                f": {summary.images} images, {summary.annotators_per_image} annotators each",
            ),
            highlight=False,
        )
