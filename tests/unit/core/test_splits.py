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


def test_folds_are_balanced_by_group_and_independent_of_order():
    from qiloop.core.splits import fold_of

    groups = [f"photo-{i}" for i in range(23)]
    folds = fold_of(groups, 5)
    sizes = sorted(list(folds.values()).count(f) for f in range(5))
    assert sizes == [4, 4, 5, 5, 5]
    assert fold_of(reversed(groups + groups), 5) == folds  # duplicates and order change nothing


def test_each_group_is_tested_exactly_once_over_the_rounds_and_never_trains_where_it_tests():
    from qiloop.core.splits import fold_assigner, fold_of

    groups = [f"photo-{i}" for i in range(40)]
    folds = fold_of(groups, 4)
    tested = {g: 0 for g in groups}
    for round_ in range(4):
        assign = fold_assigner(folds, round_)
        splits = {g: assign(g) for g in groups}
        for group, split in splits.items():
            tested[group] += split == "test"
            assert (split == "test") == (folds[group] == round_)
        assert {"train", "val"} <= set(splits.values())
    assert set(tested.values()) == {1}


def test_too_few_groups_or_folds_is_a_clear_error():
    from qiloop.core.splits import fold_assigner, fold_of

    with pytest.raises(ConfigurationError, match="3 image groups cannot fill 5 folds"):
        fold_of(["a", "b", "c"], 5)
    with pytest.raises(ConfigurationError, match="at least 2"):
        fold_of(["a", "b", "c"], 1)
    with pytest.raises(ConfigurationError, match="has no fold"):
        fold_assigner({"a": 0, "b": 1}, 0)("zzz")
