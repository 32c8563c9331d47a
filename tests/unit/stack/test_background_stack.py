"""``BackgroundStack``: ``qiloop up`` as a child process; one that ends at once is reported with its output."""

from __future__ import annotations

import pytest

from qiloop.stack.background import FREE_PORTS, BackgroundStack, StackNotReady


def test_every_port_is_asked_free():
    assert FREE_PORTS[1::2] == ("0",) * 5 and "--dagster-port" in FREE_PORTS and "--mqtt-port" in FREE_PORTS


def test_a_stack_that_ends_at_once_raises_with_the_tail_of_its_log(tmp_path):
    with pytest.raises(StackNotReady, match="ended \\(exit 2\\)") as info:
        BackgroundStack.start(tmp_path / "home", args=("--without", "grafana"), timeout=60)
    assert "no such part" in info.value.message and str(tmp_path / "up.log") in info.value.hint
