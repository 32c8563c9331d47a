"""``qiloop labels snapshot``: the reproducible identity of the approved labels."""

from __future__ import annotations

from rich.text import Text

from qiloop.cli.common import HomeOption, JsonOption, as_of_arg, console, print_json
from qiloop.cli.labels._shared import AsOf, StoreVersion, read_stores


def snapshot(
    as_of: AsOf = None, store_version: StoreVersion = None, home: HomeOption = None, json_out: JsonOption = False
) -> None:
    """The reproducible dataset identity: table version and approved record ids."""
    _, _, labels = read_stores(home)
    snap = labels.snapshot(as_of=as_of_arg(as_of, store_version))
    if json_out:
        print_json(snap.model_dump(mode="json") | {"fingerprint": snap.fingerprint})
        return
    console.print(
        Text.assemble(
            "label-store version ",
            (str(snap.label_store_version), "bold"),
            f", as of {snap.as_of or 'now'}: {len(snap.record_ids)} approved records, fingerprint ",
            (snap.fingerprint, "bold"),
        )
    )
