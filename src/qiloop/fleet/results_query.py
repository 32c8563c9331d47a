"""The questions the console asks of the fleet's results and status tables, over polars frames.

Two questions, kept small so the console's Fleet and Results pages stay fast at
millions of rows:

- :func:`recent_results`: the newest results, filtered by device, verdict, model
  version and time, a page at a time (keyset paging with a :class:`Cursor`, so page
  100 costs what page 1 does). Days are read newest first and only until the page
  is full; the wide ``payload`` column is read only for the rows of the page.
- :func:`series`: per time bucket, for one device or a line of them: images
  inspected, defect rate, latency p50/p95 (from the results), outbox depth and
  messages dropped (from the status reports).

The frames come from :class:`~qiloop.fleet.results_db.ResultsDB`; every function
here is pure over them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

from qiloop.fleet.results_schema import day_of, utc

# The frame of one day (``YYYY-MM-DD``) of a table, or None when there is none.
DayFrame = Callable[[str], pl.LazyFrame | None]
ORDER = (["time", "device_id", "sequence"], [True, False, True])  # newest first, then device, then sequence down


@dataclass(frozen=True)
class ResultFilter:
    """Which results: any of ``devices`` (empty: all), one verdict and model version, ``since <= time < until``."""

    devices: tuple[str, ...] = ()
    verdict: str | None = None
    model_version: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def expr(self) -> pl.Expr:
        """The filter as a polars expression."""
        conditions = [pl.lit(True)]
        if self.devices:
            conditions.append(pl.col("device_id").is_in(list(self.devices)))
        if self.verdict is not None:
            conditions.append(pl.col("verdict") == self.verdict)
        if self.model_version is not None:
            conditions.append(pl.col("model_version") == self.model_version)
        if self.since is not None:
            conditions.append(pl.col("time") >= utc(self.since))
        if self.until is not None:
            conditions.append(pl.col("time") < utc(self.until))
        return pl.all_horizontal(conditions)

    def wants_day(self, day: str) -> bool:
        """Whether the day partition ``day`` can hold a matching row."""
        return (self.since is None or day >= day_of(self.since)) and (self.until is None or day <= day_of(self.until))


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: the last row shown. The next page starts after it.

    Example:
        >>> Cursor.decode(Cursor(datetime(2024, 5, 1), "cam-1", 7).encode()).sequence
        7
    """

    time: datetime
    device_id: str
    sequence: int

    def encode(self) -> str:
        """A URL-safe text form (for a ``?after=`` link)."""
        return f"{utc(self.time).isoformat()}|{self.sequence}|{self.device_id}"

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """Read :meth:`encode`'s text; ValueError when it is not one."""
        stamp, sequence, device = text.split("|", 2)
        return cls(datetime.fromisoformat(stamp), device, int(sequence))

    def after(self) -> pl.Expr:
        """The rows that come after this one in the newest-first order."""
        t, d, s = pl.col("time"), pl.col("device_id"), pl.col("sequence")
        at = utc(self.time)
        return (t < at) | ((t == at) & ((d > self.device_id) | ((d == self.device_id) & (s < self.sequence))))


@dataclass(frozen=True)
class Page:
    """One page of results (newest first) and the cursor of the next page (None when this is the last)."""

    rows: pl.DataFrame
    next: Cursor | None


def recent_results(day_frame: DayFrame, days: Sequence[str], where: ResultFilter, limit: int = 50,
                   after: Cursor | None = None) -> Page:  # fmt: skip
    """The newest ``limit`` results that match ``where`` (after ``after``), with their payloads.

    Args:
        day_frame: The results of one day (stored and not yet flushed).
        days: The days that hold results, in any order.
        limit: Rows per page (0: every match; use with a time range).
    """
    condition = where.expr() if after is None else where.expr() & after.after()
    wanted = sorted((d for d in set(days) if where.wants_day(d)), reverse=True)
    if after is not None:
        wanted = [d for d in wanted if d <= day_of(after.time)]
    keys: list[pl.DataFrame] = []
    found = 0
    for day in wanted:
        frame = day_frame(day)
        if frame is None:
            continue
        query = frame.filter(condition).select(*ORDER[0]).sort(*ORDER[0], descending=ORDER[1])
        chunk = (query.head(limit - found) if limit else query).collect()
        keys.append(chunk.with_columns(pl.lit(day).alias("day")))
        found += chunk.height
        if limit and found >= limit:
            break
    page = pl.concat(keys) if keys else pl.DataFrame()
    if page.is_empty():
        return Page(page, None)
    rows = _with_columns(day_frame, page)
    last = rows.row(rows.height - 1, named=True)
    more = bool(limit) and rows.height >= limit
    return Page(rows, Cursor(last["time"], last["device_id"], last["sequence"]) if more else None)


def _with_columns(day_frame: DayFrame, keys: pl.DataFrame) -> pl.DataFrame:
    """Every column of the rows named by ``keys`` (their ``day``, ``time``, ``device_id``, ``sequence``), in order."""
    parts = []
    for day, group in keys.group_by("day", maintain_order=True):
        frame = day_frame(str(day[0]))
        assert frame is not None
        low, high = group["time"].min(), group["time"].max()
        devices = group["device_id"].unique().to_list()
        parts.append(
            frame.filter(pl.col("time").is_between(low, high) & pl.col("device_id").is_in(devices))
            .join(group.lazy().select(*ORDER[0]), on=ORDER[0], how="semi")
            .collect()
        )
    rows = pl.concat(parts, how="vertical_relaxed").unique(subset=["device_id", "sequence"], keep="first")
    return rows.sort(*ORDER[0], descending=ORDER[1])


@dataclass(frozen=True)
class SeriesPoint:
    """One time bucket of a device (or line): what it inspected and how its outbox stood.

    ``outbox_depth`` is the sum over the devices of their last reported depth in the
    bucket; ``dropped`` is how many messages their outboxes dropped during it.
    ``None``: nothing reported in the bucket.
    """

    start: datetime
    images: int = 0
    defects: int = 0
    defect_rate: float | None = None
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    outbox_depth: int | None = None
    dropped: int | None = None


def series(results: pl.LazyFrame | None, status: pl.LazyFrame | None, devices: Sequence[str], since: datetime,
           until: datetime, bucket: timedelta) -> list[SeriesPoint]:  # fmt: skip
    """Per ``bucket`` from ``since`` to ``until``: the results and status figures of ``devices`` (all when empty).

    Buckets start at multiples of ``bucket`` (UTC); only buckets with a result or a status report appear.
    """
    if bucket.total_seconds() < 1:
        raise ValueError("a series bucket is at least one second")
    every = f"{int(bucket.total_seconds())}s"
    where = ResultFilter(devices=tuple(devices), since=since, until=until)
    days = pl.col("day").is_between(pl.lit(day_of(since)), pl.lit(day_of(until)))
    points: dict[datetime, dict] = {}
    if results is not None:
        by_bucket = (
            results.filter(days & where.expr())
            .group_by(pl.col("time").dt.truncate(every).alias("start"))
            .agg(
                pl.len().alias("images"),
                (pl.col("verdict") == "fail").sum().alias("defects"),
                pl.col("latency_ms").quantile(0.5, "linear").alias("latency_p50_ms"),
                pl.col("latency_ms").quantile(0.95, "linear").alias("latency_p95_ms"),
            )
            .collect()
        )
        for row in by_bucket.iter_rows(named=True):
            row["defect_rate"] = row["defects"] / row["images"] if row["images"] else None
            points[row.pop("start")] = row
    if status is not None:
        last = (
            status.filter(days & ResultFilter(devices=tuple(devices), since=since, until=until).expr())
            .with_columns(pl.col("time").dt.truncate(every).alias("start"))
            .sort("time")
            .group_by("device_id", "start")
            .agg(pl.col("outbox_depth").last(), pl.col("outbox_dropped").last())
            .sort("device_id", "start")
            .with_columns(pl.col("outbox_dropped").diff().over("device_id").alias("step"))
            .with_columns(  # a counter that went down was reset by a restart: all it shows is new
                pl.when(pl.col("step") < 0).then(pl.col("outbox_dropped")).otherwise(pl.col("step").fill_null(0))
                .alias("dropped")
            )
            .group_by("start")
            .agg(pl.col("outbox_depth").sum(), pl.col("dropped").sum())
            .collect()
        )  # fmt: skip
        for row in last.iter_rows(named=True):
            points.setdefault(row["start"], {}).update(outbox_depth=row["outbox_depth"], dropped=row["dropped"])
    return [SeriesPoint(start=start, **values) for start, values in sorted(points.items())]


def device_summaries(results: pl.LazyFrame | None, since: datetime, until: datetime) -> pl.DataFrame:
    """Per device over ``since <= time < until``: images, defects, defect rate, latency p95, last result time."""
    empty = pl.DataFrame(schema={"device_id": pl.String, "images": pl.UInt32, "defects": pl.UInt32,
                                 "defect_rate": pl.Float64, "latency_p95_ms": pl.Float64})  # fmt: skip
    if results is None:
        return empty
    days = pl.col("day").is_between(pl.lit(day_of(since)), pl.lit(day_of(until)))
    return (
        results.filter(days & ResultFilter(since=since, until=until).expr())
        .group_by("device_id")
        .agg(
            pl.len().alias("images"),
            (pl.col("verdict") == "fail").sum().alias("defects"),
            pl.col("latency_ms").quantile(0.95, "linear").alias("latency_p95_ms"),
            pl.col("time").max().alias("last_result"),
        )
        .with_columns((pl.col("defects") / pl.col("images")).alias("defect_rate"))
        .sort("device_id")
        .collect()
    )
