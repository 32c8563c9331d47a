"""Versions compare as integers part by part; ranges accept what they say."""

from __future__ import annotations

import pytest

from qiloop.core.errors import InvalidRecordError
from qiloop.core.versions import Version, check_range, satisfies


@pytest.mark.parametrize(
    ("a", "b", "less"),
    [("1.9", "1.10", True), ("2", "10", True), ("1.4", "1.4.0", False), ("0.9.9", "1", True), ("3", "3", False)],
)
def test_order(a, b, less):
    assert (Version(a) < Version(b)) is less


def test_trailing_zeros_are_equal_and_hash_alike():
    assert Version("1.4") == Version("1.4.0") and len({Version("1.4"), Version("1.4.0")}) == 1


@pytest.mark.parametrize(
    ("version", "spec", "ok"),
    [
        ("3", ">=3", True),
        ("2", ">=3", False),
        ("4", ">=3,<5", True),
        ("5", ">=3,<5", False),
        ("1.4.2", "^1.4", True),
        ("2.0", "^1.4", False),
        ("0.2.9", "^0.2", True),
        ("0.3", "^0.2", False),
        ("7", "*", True),
        ("7", "", True),
        ("4", "4", True),
        ("4.0", "==4", True),
        ("4", "!=4", False),
        ("3", "> 2", True),
        ("3", "<=3", True),
    ],
)
def test_satisfies(version, spec, ok):
    assert satisfies(version, spec) is ok


@pytest.mark.parametrize("bad", ["v1", "1.", "1..2", "-1", "", "1.a"])
def test_bad_versions_are_refused(bad):
    with pytest.raises(InvalidRecordError, match="not a version"):
        Version(bad)


@pytest.mark.parametrize("bad", [">=x", "=>3", ">=3;<4", "~1.2"])
def test_bad_ranges_are_refused_with_the_clause(bad):
    with pytest.raises(InvalidRecordError, match="not a version range"):
        check_range(bad)
