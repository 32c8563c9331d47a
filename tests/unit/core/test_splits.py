from collections import Counter

import pytest

from qiloop.core.errors import ConfigurationError
from qiloop.core.splits import split_of, unit_hash


def test_split_is_stable_and_salted():
    assert split_of("photo-1") == split_of("photo-1")
    assert unit_hash("photo-1") != unit_hash("photo-1", salt="other")
    # A known value pins the hash: changing it would move every group between splits.
    assert unit_hash("photo-1") == pytest.approx(0.68723, abs=1e-5)


def test_ratios_are_respected_over_many_groups():
    counts = Counter(split_of(f"g{i}") for i in range(20_000))
    assert counts["train"] / 20_000 == pytest.approx(0.8, abs=0.01)
    assert counts["val"] / 20_000 == pytest.approx(0.1, abs=0.01)
    assert counts["test"] / 20_000 == pytest.approx(0.1, abs=0.01)


def test_adding_groups_never_moves_existing_ones():
    before = {f"g{i}": split_of(f"g{i}") for i in range(1000)}
    for i in range(1000, 3000):
        split_of(f"g{i}")
    assert all(split_of(g) == s for g, s in before.items())


@pytest.mark.parametrize("ratios", [{}, {"train": 0.9}, {"train": 1.2, "test": -0.2}])
def test_bad_ratios(ratios):
    with pytest.raises(ConfigurationError, match="sum to 1"):
        split_of("g", ratios)
