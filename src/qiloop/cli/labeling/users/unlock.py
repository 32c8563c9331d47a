"""``qiloop labeling users unlock``: lift the login throttle of a username."""

from __future__ import annotations

from qiloop.cli.common import HomeOption, JsonOption, console, open_database, print_json
from qiloop.cli.labeling.users._shared import UserName


def unlock(username: UserName, home: HomeOption = None, json_out: JsonOption = False) -> None:
    """Forget a username's failed password checks, so a throttled login works again at once.

    Limits per client address are not lifted: they run out with their window.
    """
    from qiloop.labeling.throttle import forget

    with open_database(home)[1].session() as session:
        forgotten = forget(session, username)
    if json_out:
        print_json({"username": username, "failures_forgotten": forgotten})
    else:
        console.print(f"forgot {forgotten} failed password check(s) of {username}", highlight=False)
