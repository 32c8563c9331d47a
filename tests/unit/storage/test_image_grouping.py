"""Group keys from file names: what must stay in one data split."""

from __future__ import annotations

import pytest

from qiloop.core.errors import ConfigurationError
from qiloop.storage.grouping import compile_group_pattern, group_of

DEFAULT = r"^(?P<group>.+?)-cropped"


@pytest.mark.parametrize(
    ("name", "pattern", "group"),
    [
        ("image-2020-04-22-11-07-29-26-cropped-left-top.jpg", DEFAULT, "image-2020-04-22-11-07-29-26"),
        ("image-2020-04-22-10-53-58-45-cropped-right-top.jpg_3", DEFAULT, "image-2020-04-22-10-53-58-45"),
        ("bad/image-1-cropped-left-top.jpg", DEFAULT, "image-1"),  # folders do not count
        ("tag-17.jpg", DEFAULT, "tag-17"),  # no match: its own group, without extension
        ("tag-17.jpg_3", DEFAULT, "tag-17"),
        ("noext", DEFAULT, "noext"),
        ("cam7_000123_tile4.png", r"^cam\d+_(\d+)_", "000123"),  # first group when none is named
        ("cam7_000123_tile4.png", r"^(cam\d+)_(?P<group>\d+)_", "000123"),  # the named group wins
        ("cam7_000123_tile4.png", r"^cam\d+", "cam7"),  # no group: the whole match
        ("cam7_000123_tile4.png", r"^(x?)cam", "cam7_000123_tile4"),  # empty capture: own group
    ],
)
def test_group_of(name, pattern, group):
    assert group_of(name, pattern) == group


def test_bad_pattern_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="not a valid regular expression") as caught:
        compile_group_pattern("(unclosed")
    assert "group_pattern" in (caught.value.hint or "")
