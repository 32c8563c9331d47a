"""``qiloop labeling jobs create``: a labelling job from waiting images, device feedback or named images."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from qiloop.cli.common import HomeOption, JsonOption, console, open_database, print_json, user_file
from qiloop.cli.labeling.jobs._prelabel import PRELABEL_HELP, model_prelabels, store_gold
from qiloop.cli.labeling.jobs._shared import job_json
from qiloop.labeling.consolidation import DEFAULT_MIN_SUPPORT


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
    from qiloop.core.errors import ConfigurationError
    from qiloop.labeling import jobs
    from qiloop.labelstore import LabelStore
    from qiloop.storage import ImageStore

    if instructions_file is not None:
        user_file(instructions_file, what="instructions file")
    settings, db = open_database(home)
    store = ImageStore.from_settings(settings)
    prelabels, prelabel_source = None, None
    with db.session() as session:  # images another job holds are not free: --limit counts free ones
        queued = jobs.queued_sha256s(session)
    if images:
        records = [r for r in (store.resolve(prefix) for prefix in images) if r.sha256 not in queued][:limit]
    elif source == "unlabeled":
        records = jobs.images_without_approved_label(store, LabelStore.from_settings(settings), limit, exclude=queued)
    elif source == "feedback":
        records, prelabels = jobs.feedback_images(store, limit, exclude=queued)
        prelabel_source = "feedback"
    else:
        raise ConfigurationError(f"unknown --from {source!r}", hint="use --from unlabeled or --from feedback")
    gold_boxes: dict = {}
    if prelabel_model:
        prelabel_source, prelabels, gold_boxes = model_prelabels(
            prelabel_model, settings, db, store, name, records, feedback=prelabels,
            classes=classes or settings.classes, gold=gold_every > 0, progress=not json_out,
        )  # fmt: skip
    text = instructions_file.read_text(encoding="utf-8") if instructions_file else instructions
    spec = jobs.JobSpec.build(
        name=name,
        classes=classes or settings.classes,
        instructions=text,
        annotators_per_image=annotators,
        quorum=quorum,
        min_support=None if head_count else min_support,
        lease_seconds=lease_seconds,
        gold_every=gold_every,
        prelabel_source=prelabel_source,
    )
    with db.session() as session:
        summary = jobs.create_job(session, spec, records, prelabels=prelabels)
        store_gold(session, summary.id, gold_boxes)
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
