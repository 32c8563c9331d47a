"""Parameters shared by the routes: a row id is checked at the boundary, once, for every route.

Ids in paths (tasks, review items) are the service database's integer primary
keys: 32-bit ``INTEGER`` on PostgreSQL. A number outside ``1..MAX_ROW_ID`` can
name no row, and a driver cannot even bind one above 2^63 (SQLite raises
OverflowError, PostgreSQL "integer out of range"): it is refused here as a
malformed request (422, like any other bad parameter) before it reaches a query.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from qiloop.labeling.db import MAX_ROW_ID

RowId = Annotated[
    int,
    Path(ge=1, le=MAX_ROW_ID, description=f"A row id: a whole number from 1 to {MAX_ROW_ID}."),
]
