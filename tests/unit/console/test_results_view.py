"""The Results page's query: parsing the form, refusing bad input with what to send, and page links."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from qiloop.console.results_view import ResultQuery
from qiloop.core.errors import ConfigurationError


def test_times_without_a_zone_are_utc_and_the_filter_reaches_the_store():
    q = ResultQuery.parse(" cam-1 ", "fail", "3", "2026-12-03T12:00", "2026-12-03T14:00+01:00", "")
    assert q.since == datetime(2026, 12, 3, 12, tzinfo=timezone.utc)
    assert q.until == datetime(2026, 12, 3, 13, tzinfo=timezone.utc)
    where = q.where()
    assert (where.devices, where.verdict, where.model_version) == (("cam-1",), "fail", "3")
    assert q.cursor() is None


def test_empty_fields_do_not_filter():
    where = ResultQuery.parse("", "", "", "", "", "").where()
    assert (where.devices, where.verdict, where.model_version, where.since, where.until) == ((), None, None, None, None)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (("", "maybe", "", "", "", ""), "unknown verdict"),
        (("", "", "", "yesterday", "", ""), "from 'yesterday' is not a time"),
        (("", "", "", "", "", "not-a-cursor"), "page link is damaged"),
    ],
)
def test_bad_input_is_refused_with_a_hint(fields, message):
    with pytest.raises(ConfigurationError, match=message) as caught:
        ResultQuery.parse(*fields)
    assert caught.value.hint


def test_links_keep_the_filter_and_carry_the_cursor():
    from qiloop.fleet.results_query import Cursor

    cursor = Cursor(datetime(2026, 12, 3, 12, tzinfo=timezone.utc), "cam-1", 7).encode()
    q = ResultQuery.parse("cam-1", "pass", "", "2026-12-03T10:00", "", cursor)
    assert q.cursor().sequence == 7
    assert q.link("next") == {"device": "cam-1", "verdict": "pass", "since": "2026-12-03T10:00:00", "after": "next"}
