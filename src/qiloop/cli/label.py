"""``qiloop label``: the labelling service's workforce and jobs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from qiloop.cli import label_web
from qiloop.cli.common import HomeOption, JsonOption, console, print_json, settings_for

app = typer.Typer(help="Labelling: workers, jobs, and the path from images to approved labels.", no_args_is_help=True)
users_app = typer.Typer(help="Workforce accounts: labelers, verifiers, admins.", no_args_is_help=True)
jobs_app = typer.Typer(help="Labelling jobs.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(jobs_app, name="jobs")
app.command("serve")(label_web.serve)
app.command("bots")(label_web.bots)


def _database(home):
    from qiloop.core.errors import require

    require("sqlalchemy", "label")
    from qiloop.labeling.db import Database

    settings = settings_for(home)
    return settings, Database.from_settings(settings)


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option("--role", help="labeler, verifier or admin.")] = "labeler",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")
    ] = False,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Add a worker account (the password is asked for, or read from stdin)."""
    from qiloop.labeling.workforce import add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    _, db = _database(home)
    with db.session() as session:
        user = add_user(session, username, password, role)
    if json_out:
        print_json({"id": user.id, "username": user.username, "role": user.role})
    else:
        console.print(f"added {user.role} [bold]{user.username}[/]", highlight=False)


@users_app.command("ls")
def users_ls(home: HomeOption = None, json_out: JsonOption = False) -> None:
    """List accounts with their gold-check accuracy; flagged workers are under the reliability threshold."""
    from qiloop.labeling.workforce import accuracy, list_users

    _, db = _database(home)
    with db.session() as session:
        users = list_users(session)
        scores = accuracy(session)
    rows = [
        {
            "username": u.username,
            "role": u.role,
            "disabled": u.disabled,
            "gold_items": scores[u.username].gold_items,
            "mean_f1": scores[u.username].mean_f1,
            "reliability": round(scores[u.username].reliability, 4),
            "flagged": scores[u.username].flagged,
            "created_at": u.created_at.isoformat(),
        }
        for u in users
    ]
    if json_out:
        print_json(rows)
        return
    table = Table("user", "role", "state", "gold", "mean F1", "reliability", "flag")
    for r in rows:
        mean = "-" if r["mean_f1"] is None else f"{r['mean_f1']:.2f}"
        state = "disabled" if r["disabled"] else "active"
        flag = "[red]low accuracy[/]" if r["flagged"] else ""
        table.add_row(r["username"], r["role"], state, str(r["gold_items"]), mean, f"{r['reliability']:.2f}", flag)
    console.print(table)


@users_app.command("disable")
def users_disable(
    username: Annotated[str, typer.Argument(help="Login name.")],
    enable: Annotated[bool, typer.Option("--enable", help="Enable the account again instead.")] = False,
    home: HomeOption = None,
) -> None:
    """Disable an account: its password, API tokens and sessions stop working at once."""
    from qiloop.labeling.workforce import set_disabled

    _, db = _database(home)
    with db.session() as session:
        user = set_disabled(session, username, disabled=not enable)
    console.print(f"{user.username} is {'disabled' if user.disabled else 'enabled'}", highlight=False)


@users_app.command("token")
def users_token(
    username: Annotated[str, typer.Argument(help="Login name.")],
    name: Annotated[str, typer.Option("--name", help="What the token is for.")] = "cli",
    home: HomeOption = None,
) -> None:
    """Issue an API token for scripts (Authorization: Bearer ...); it is printed once and never stored."""
    from qiloop.labeling.auth import issue_api_token
    from qiloop.labeling.workforce import active_user

    _, db = _database(home)
    with db.session() as session:
        token = issue_api_token(session, active_user(session, username), name)
    typer.echo(token)


@jobs_app.command("create")
def jobs_create(
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
        float | None,
        typer.Option(
            "--min-support",
            help="Also keep a box whose annotators hold this share of the reliability "
            "weight (a weighted vote, e.g. 0.4).",
        ),
    ] = None,
    instructions: Annotated[str, typer.Option("--instructions", help="Instructions shown to workers.")] = "",
    instructions_file: Annotated[
        Path | None, typer.Option("--instructions-file", help="Read the instructions from a file.")
    ] = None,
    lease_seconds: Annotated[float, typer.Option("--lease-seconds", help="Time a worker holds a task.")] = 900.0,
    gold_every: Annotated[int, typer.Option("--gold-every", help="Every n-th task is a gold image; 0: none.")] = 0,
    limit: Annotated[int | None, typer.Option("--limit", help="At most this many images.")] = None,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Create a labelling job from images without approved labels, from device feedback, or from named images."""
    from qiloop.core.errors import ConfigurationError
    from qiloop.labeling import jobs
    from qiloop.labelstore import LabelStore
    from qiloop.storage import ImageStore

    settings, db = _database(home)
    store = ImageStore.from_settings(settings)
    prelabels, prelabel_source = None, None
    if images:
        records = [store.resolve(prefix) for prefix in images][:limit]
    elif source == "unlabeled":
        records = jobs.images_without_approved_label(store, LabelStore.from_settings(settings), limit)
    elif source == "feedback":
        records, prelabels = jobs.feedback_images(store, limit)
        prelabel_source = "feedback"
    else:
        raise ConfigurationError(f"unknown --from {source!r}", hint="use --from unlabeled or --from feedback")
    text = instructions_file.read_text(encoding="utf-8") if instructions_file else instructions
    spec = jobs.JobSpec.build(
        name=name,
        classes=classes or settings.classes,
        instructions=text,
        annotators_per_image=annotators,
        quorum=quorum,
        min_support=min_support,
        lease_seconds=lease_seconds,
        gold_every=gold_every,
        prelabel_source=prelabel_source,
    )
    with db.session() as session:
        summary = jobs.create_job(session, spec, records, prelabels=prelabels)
    if json_out:
        print_json(_job_json(summary))
    else:
        console.print(
            f"created job [bold]{summary.name}[/]: {summary.images} images, "
            f"{summary.annotators_per_image} annotators each",
            highlight=False,
        )


@jobs_app.command("ls")
def jobs_ls(home: HomeOption = None, json_out: JsonOption = False) -> None:
    """List jobs, newest first, with their progress."""
    from qiloop.labeling.jobs import list_jobs

    _, db = _database(home)
    with db.session() as session:
        summaries = list_jobs(session)
    if json_out:
        print_json([_job_json(s) for s in summaries])
        return
    table = Table("job", "state", "classes", "per image", "images", "labelling", "verifying", "approved")
    for s in summaries:
        table.add_row(
            s.name, s.state, escape(", ".join(s.classes)), str(s.annotators_per_image), str(s.images),
            str(s.labeling), str(s.verifying), str(s.approved),
        )  # fmt: skip
    console.print(table)


def _job_json(summary) -> dict:
    return {
        "id": summary.id,
        "name": summary.name,
        "state": summary.state,
        "classes": list(summary.classes),
        "annotators_per_image": summary.annotators_per_image,
        "images": summary.images,
        "labeling": summary.labeling,
        "verifying": summary.verifying,
        "approved": summary.approved,
        "created_at": summary.created_at.isoformat(),
    }
