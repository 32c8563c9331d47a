"""``qiloop labeling users ls``: the accounts and how reliable each worker is."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from qiloop.cli.common import HomeOption, JsonOption, console, open_database, print_json


def ls(home: HomeOption = None, json_out: JsonOption = False) -> None:
    """List accounts with their gold-check accuracy; flagged workers are under the reliability threshold."""
    from qiloop.labeling.workforce import accuracy, list_users

    _, db = open_database(home, must_exist=True)
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
        flag = Text("low accuracy", style="red") if r["flagged"] else ""
        table.add_row(r["username"], r["role"], state, str(r["gold_items"]), mean, f"{r['reliability']:.2f}", flag)
    console.print(table)
